"""The training loop of ``desra/train.py``: builders, loggers and folders are basicsr's
(``<--root>/experiments/<name>/`` with ``models/``, ``training_states/``, ``visualization/`` and the log;
``<--root>/tb_logger/<name>/``, synced to wandb with ``logger: wandb: project``). Every input is looked for before
any folder is made, and nothing is archived: a name whose experiment folder holds a run needs ``--auto_resume``.
The loop is ours, because basicsr's ``train_pipeline`` loads resume states onto CUDA whatever ``num_gpu`` says,
restarts a resumed epoch from its beginning, and reloads the pretrained ``params_ema`` into net_g on resume. Here:

* ``training_states/<iter>.state`` holds everything the rest of the run depends on (:mod:`desra.training.state`);
* ``--auto_resume`` (or ``path:resume_state``) loads the latest state with ``weights_only=True`` onto the CPU, the
  model moves it to its device, and the epoch continues where it stopped; on one process, a run interrupted at
  iteration k and resumed ends with bit-identical weights to an uninterrupted run with the same seed (CPU; cuDNN's
  autotuned kernels may differ between runs on CUDA);
* validation does not change the random states, so it never changes the training;
* checkpoints and states are written atomically;
* under torchrun (``--launcher pytorch``) each process trains on its share of every epoch (rank ``r`` takes
  positions ``r, r + world_size, ...``) and DDP averages the gradients, on GPUs (NCCL) as on the CPU (gloo): N
  processes with ``batch_size_per_gpu`` b step as one process with batch N * b does, up to float rounding (tested
  on the CPU), the masked terms included: their normaliser (the mask area) is averaged over the processes
  (:func:`desra.losses.masked_loss.weighted_mean`). A resumed multi-process run continues from the saved iteration
  and epoch position with fresh per-rank random streams, so it is bit-identical only where training draws no
  random numbers of its own (no stochastic depth).
"""
import os
import shutil
import time
import warnings
from os import path as osp

import torch
from basicsr.data import build_dataloader, build_dataset
from basicsr.models import build_model
from basicsr.utils import AvgTimer, init_tb_logger, init_wandb_logger, set_random_seed
from basicsr.utils.options import copy_opt_file

from desra.archs.auto_arch import resolve_network_opt
from desra.batch.logs import log_run_header, new_log_file, open_log
from desra.config.preflight import check_inputs_exist
from desra.config.schema import OptionError
from desra.data.deterministic_sampler import DeterministicSampler
from desra.training.messages import IterationMessages
from desra.training.network_check import check_generator_takes_crops
from desra.training.selection import BEST_LABEL, CheckpointSelector
from desra.training.state import find_resume_state, preserved_rng_states, save_training_state, set_rng_states
from desra.training.twin_check import check_reference_twin


def create_dataloaders(opt, logger):
    """The train loader (a :class:`DeterministicSampler` feeding ``(index, sample_seed)`` pairs), its sampler, and
    one loader per ``datasets:val*`` entry."""
    train_opt = opt['datasets']['train']
    train_set = build_dataset(train_opt)
    sampler = DeterministicSampler(len(train_set), opt['manual_seed'], opt['world_size'], opt['rank'],
                                   train_opt.get('dataset_enlarge_ratio', 1))
    if train_opt.get('prefetch_mode') == 'cuda':
        raise ValueError('datasets:train:prefetch_mode cuda is not supported; use ~ or cpu (with pin_memory: true '
                         'batches are copied to the GPU asynchronously)')
    train_loader = build_dataloader(train_set, train_opt, opt['num_gpu'], opt['dist'], sampler, opt['manual_seed'])
    iters_per_epoch = sampler.num_samples // train_loader.batch_size
    if iters_per_epoch == 0:
        raise ValueError(f'{len(train_set)} training images (x dataset_enlarge_ratio) do not fill one batch of '
                         f'{train_loader.batch_size} per process; raise datasets:train:dataset_enlarge_ratio')
    logger.info(f'Training data: {len(train_set)} images, enlarge ratio {train_opt.get("dataset_enlarge_ratio", 1)}, '
                f'batch {train_loader.batch_size} per process, {opt["world_size"]} process(es), '
                f'{iters_per_epoch} iterations per epoch, {opt["train"]["total_iter"]} iterations in all.')
    val_loaders = []
    for phase, dataset_opt in opt['datasets'].items():
        if phase.split('_')[0] == 'val':
            val_set = build_dataset(dataset_opt)
            val_loaders.append(build_dataloader(val_set, dataset_opt, opt['num_gpu'], opt['dist']))
            logger.info(f'Validation data {dataset_opt["name"]}: {len(val_set)} images.')
        elif phase != 'train':
            raise ValueError(f'datasets:{phase}: unknown phase (use train, val or val_<n>)')
    return train_loader, sampler, val_loaders


def validate(opt, model, val_loaders, current_iter, tb_logger, selector=None):
    """Validate on every validation loader without touching the random states; the selector (rank 0) judges the
    first loader's figures.

    Returns:
        str | None: Why the run stops early (``val:select:patience``; the same on every rank), or None.
    """
    with preserved_rng_states():
        for val_loader in val_loaders:
            model.validation(val_loader, current_iter, tb_logger, opt['val'].get('save_img', False))
    reason = None
    if selector is not None:
        selector.observe(current_iter, model.validation_figures[val_loaders[0].dataset.opt['name']])
        reason = selector.stop_reason()
    if opt['dist']:
        shared = [reason]
        torch.distributed.broadcast_object_list(shared, src=0)
        reason = shared[0]
    return reason


def make_selector(opt, model, val_loaders, resume_iter):
    """The checkpoint selection of ``val:select`` on rank 0 (None elsewhere, or without it).

    Raises:
        ValueError: ``val:select`` without a validation dataset.
    """
    if (opt.get('val') or {}).get('select') is None:
        return None
    if not val_loaders:
        raise ValueError('val:select selects from validations: add a datasets:val entry (images that are not the '
                         'held-out test images)')
    if opt['rank'] != 0:
        return None
    return CheckpointSelector(opt['val']['select'], opt['path']['models'],
                              lambda: model.save_generator(BEST_LABEL), resume_iter)


def earlier_run_files(opt):
    """The checkpoints and training states an earlier run of this name left (hidden temporary files aside): what a
    new run must not overwrite. A run that stopped before its first checkpoint left none, and does not count."""
    paths = opt['path']
    return [os.path.join(paths[key], name) for key in ('models', 'training_states') if osp.isdir(paths[key])
            for name in sorted(os.listdir(paths[key])) if not name.startswith('.')]


def make_training_folders(opt, resuming):
    """Create ``experiments/<name>/{models,training_states,visualization}`` and ``tb_logger/<name>`` (rank 0; the
    other ranks wait for it), after the preflight. Nothing is archived or overwritten: a new run whose experiment
    folder holds checkpoints or training states of an earlier run is refused unless ``--auto_resume`` asked to
    continue it. A run that crashed before its first checkpoint does not block a fresh start: its log and option
    file stay, the original GAN results its validation kept (``val_original/``) are removed.

    Returns:
        list[str]: Notes for the log (what a fresh start over a crashed run removed).

    Raises:
        OptionError: ``experiments/<name>`` holds an earlier run and neither ``--auto_resume`` nor
            ``path:resume_state`` continues it.
    """
    paths, notes = opt['path'], []
    if opt['rank'] == 0:  # the other ranks wait: a folder they made could pass for an earlier run
        root = paths['experiments_root']
        fresh = not resuming
        if fresh and not opt['auto_resume'] and earlier_run_files(opt):
            raise OptionError(f'{root} holds an earlier run: continue it with --auto_resume, or choose another name '
                              f'(nothing is archived or overwritten; it holds {earlier_run_files(opt)[0]})')
        if fresh and osp.isdir(root) and any(files for _, _, files in os.walk(root)):
            notes.append(f'{root} holds a run that stopped before its first checkpoint: starting afresh (its log '
                         'stays)')
            val_original = osp.join(root, 'val_original')
            if osp.isdir(val_original):
                shutil.rmtree(val_original)
                notes.append(f'removed {val_original}: the original GAN results of that run')
        for key in ('experiments_root', 'models', 'training_states', 'visualization'):
            os.makedirs(paths[key], exist_ok=True)
        if opt['logger'].get('use_tb_logger') and 'debug' not in opt['name']:
            os.makedirs(paths['tb_logger'], exist_ok=True)
    if opt['dist']:
        torch.distributed.barrier()
    return notes


def init_loggers(opt, option_file, notes=()):
    """The log file in ``experiments/<name>/`` (a new one per run, :func:`~desra.batch.logs.new_log_file`), with
    ``notes`` logged as warnings, and the tensorboard writer (rank 0, ``use_tb_logger``) with wandb syncing it when
    ``logger:wandb:project`` is set (as basicsr: wandb first, then tensorboard)."""
    log_file = new_log_file(opt['path']['log'], f'train_{opt["name"]}') if opt['rank'] == 0 else None
    logger = open_log('basicsr', log_file)
    log_run_header(logger, opt)
    for note in notes:
        logger.warning(note)
    if opt['rank'] == 0:
        copy_opt_file(option_file, opt['path']['experiments_root'])
    if not opt['logger'].get('use_tb_logger') or 'debug' in opt['name']:
        return logger, None
    if (opt['logger'].get('wandb') or {}).get('project'):
        init_wandb_logger(opt)
    return logger, init_tb_logger(log_dir=opt['path']['tb_logger'])


def train(opt, option_file):
    """Train with the options of ``option_file`` (parsed by :func:`desra.config.options.parse_command_options`
    without its preflight): find the state to resume from, look for every input it needs, make the folders, then
    train, validate (selecting the checkpoint to keep with ``val:select``, :mod:`desra.training.selection`) and save
    until ``train: total_iter``, or until the selection stops the run early.

    Returns:
        int: Exit status (0).
    """
    torch.backends.cudnn.benchmark = True

    resume_path, resume_state, resume_notes = find_resume_state(opt)
    check_inputs_exist(opt, 'train', option_file, resuming=resume_path is not None)
    twin_notes = check_reference_twin(opt, check_generator_takes_crops(opt))
    notes = resume_notes + twin_notes + make_training_folders(opt, resuming=resume_path is not None)
    logger, tb_logger = init_loggers(opt, option_file, notes)

    train_loader, train_sampler, val_loaders = create_dataloaders(opt, logger)
    if resume_path is not None:
        opt['network_g'] = resolve_network_opt(opt, 'g')  # type: auto: the architecture is read from this file
        for key in ('pretrain_network_g', 'pretrain_network_d'):  # the state holds the weights
            opt['path'][key] = None
    model = build_model(opt)
    if not hasattr(model, 'training_state'):
        raise ValueError(f'model_type {opt["model_type"]}: desra/train.py trains DeSRAModel or DeSRALDLModel')

    epoch, current_iter, sampler_position = 0, 0, 0
    if resume_state is not None:
        model.resume_training(resume_state)
        epoch, current_iter = resume_state['epoch'], resume_state['iter']
        sampler_position = resume_state['sampler_position']
        logger.info(f'Resuming from {resume_path}: epoch {epoch}, iter {current_iter}.')
    train_sampler.set_epoch(epoch)
    train_sampler.set_start(sampler_position)
    batches = iter(train_loader)  # draws the workers' base seed from torch's random state...
    if resume_state is not None:  # ...so the saved states are restored after it, as they were when saved
        if opt['world_size'] == 1:
            set_rng_states(resume_state['rng_states'])
        else:  # one state was saved (rank 0's); give every rank its own stream again
            set_random_seed(opt['manual_seed'] + opt['rank'] + current_iter)

    total_iters = int(opt['train']['total_iter'])
    print_freq, save_freq = int(opt['logger']['print_freq']), int(opt['logger']['save_checkpoint_freq'])
    val_freq = int(opt['val']['val_freq']) if opt.get('val') is not None else 0
    selector = make_selector(opt, model, val_loaders, current_iter if resume_state is not None else None)
    if selector is not None and selector.resume_note:
        logger.warning(selector.resume_note)
    messages = IterationMessages(opt, current_iter, tb_logger)
    data_timer, iter_timer = AvgTimer(), AvgTimer()
    start_time, start_iter = time.time(), current_iter
    logger.info(f'Start training from epoch {epoch}, iter {current_iter}.')
    try:
        while current_iter < total_iters:
            train_data = next(batches, None)
            if train_data is None:  # end of the epoch
                epoch, sampler_position = epoch + 1, 0
                train_sampler.set_epoch(epoch)
                batches = iter(train_loader)
                continue
            data_timer.record()
            current_iter += 1
            sampler_position += train_loader.batch_size
            with warnings.catch_warnings():
                # basicsr steps its schedulers at the start of each iteration, before the optimizer, as its own
                # train.py does: the schedule is basicsr's by design, and torch's warning about the order is noise
                warnings.filterwarnings('ignore', message=r'Detected call of `lr_scheduler\.step\(\)` before',
                                        category=UserWarning)
                model.update_learning_rate(current_iter, warmup_iter=opt['train'].get('warmup_iter', -1))
            model.feed_data(train_data)
            model.optimize_parameters(current_iter)
            iter_timer.record()
            if current_iter == start_iter + 1:
                messages.mark(current_iter)
            if current_iter % print_freq == 0:
                messages(epoch, current_iter, model.get_current_learning_rate(), iter_timer.get_avg_time(),
                         data_timer.get_avg_time(), model.get_current_log())
            if current_iter % save_freq == 0:
                logger.info('Saving models and training states.')
                model.save(epoch, current_iter)
                save_training_state(opt, model, epoch, current_iter, sampler_position)
            if val_freq and current_iter % val_freq == 0:
                stop = validate(opt, model, val_loaders, current_iter, tb_logger, selector)
                if stop:
                    logger.info(f'Stopping early at iter {current_iter} (val:select:patience): {stop}.')
                    if selector is not None:
                        selector.stop_early(stop)
                    break
            data_timer.start()
            iter_timer.start()
    except KeyboardInterrupt:
        logger.info(f'Interrupted at iter {current_iter}; rerun the command with --auto_resume to continue from the '
                    f'latest state in {opt["path"]["training_states"]}.')
        raise

    logger.info(f'End of training: {current_iter - start_iter} iterations in {time.time() - start_time:.0f} s. '
                'Saving the latest models.')
    model.save(epoch=-1, current_iter=-1)
    if val_freq and current_iter % val_freq != 0:
        validate(opt, model, val_loaders, current_iter, tb_logger, selector)
    if selector is not None:
        logger.info(selector.finish(current_iter))
    if hasattr(model, 'end_of_run'):  # a reference twin's summary: its checkpoint, its PSNR, the files skipped
        model.end_of_run(train_loader.dataset, [loader.dataset for loader in val_loaders])
    if tb_logger:
        tb_logger.close()
    if opt['dist']:  # every rank waits for rank 0's last checkpoint and validation, then leaves the group
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    return 0
