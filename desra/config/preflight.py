"""Checks a command makes before any side effect: its outputs never overlap its inputs, and every input exists.

:func:`check_outputs_apart` refuses an option set in which an output folder is, contains or lies inside an input
folder (after resolving symbolic links), so no run can overwrite its inputs or read its own outputs back.
:func:`check_inputs_exist` looks for every file, folder and weight the options name and reports all the missing ones
at once, each with where to get it (:data:`WEIGHT_SOURCES`, the one table of download links), before a command
creates any folder.
"""
import os

from desra.config.layout import input_folders
from desra.config.schema import OptionError
from desra.detection.detector import DEFAULT_DETECTOR_OPT
from desra.detection.segmenter import DESRA_RELEASE_URL, SegmenterWeightsError, check_segformer_weights
from desra.io.paths import is_within, not_found, overlap, real_path
from desra.losses.perceptual_loss import VGG19_FILENAME, VGG19_URL, find_vgg19_weights
from desra.training.twin_check import TWIN_MODEL
from desra.weights.hub import is_hub_id, resolve_weights

#: Where to download the DeSRA artifact dataset (the DeSRA README's links).
DATASET_LINKS = ('https://drive.google.com/drive/folders/1jPTvXq_uJvpOaP5uCZ6unmb13Gt2naVC?usp=sharing (Google Drive)',
                 'https://pan.baidu.com/s/1rwwEpATlPo9RFzTv6D7lBw?pwd=DGLF (Baidu Disk)')
_REAL_ESRGAN = 'https://github.com/xinntao/Real-ESRGAN/releases/download'
#: Where each known weight file comes from (by file name): the table the error messages use.
WEIGHT_SOURCES = {
    'RealESRGAN_x4plus.pth': f'`desra-weights` (offline; `make weights` in a checkout), or '
                             f'{_REAL_ESRGAN}/v0.1.0/RealESRGAN_x4plus.pth',
    'RealESRNet_x4plus.pth': f'{_REAL_ESRGAN}/v0.1.1/RealESRNet_x4plus.pth',
    'RealESRGAN_x4plus_netD.pth': f'{_REAL_ESRGAN}/v0.2.2.3/RealESRGAN_x4plus_netD.pth',
    'RealESRGAN_x4plus_anime_6B.pth': f'`desra-weights` (offline; `make weights` in a checkout), or '
                                      f'{_REAL_ESRGAN}/v0.2.2.4/RealESRGAN_x4plus_anime_6B.pth',
    'realesr-animevideov3.pth': f'`desra-weights` (offline; `make weights` in a checkout), or '
                                f'{_REAL_ESRGAN}/v0.2.5.0/realesr-animevideov3.pth',
    'DemoMSE_x4plus.pth': '`desra-weights` (offline; `make weights` in a checkout): the demo\'s MSE model',
    VGG19_FILENAME: VGG19_URL,
}
#: The DeSRA release's weights of the paper's models, by role (its README's links).
DESRA_MODEL_SOURCES = {
    'mse': f'DeSRA release, MSE and GAN models: {DESRA_RELEASE_URL}',
    'gan': f'DeSRA release, MSE and GAN models: {DESRA_RELEASE_URL}',
    'finetuned': 'DeSRA release, GAN-DeSRA models: '
                 'https://drive.google.com/drive/folders/14cLRrE4GjbgxIlVz6RoeRr0-2-NiTHrf',
}
#: Where the weights of other models come from.
OTHER_WEIGHTS = (f'see experiments/pretrained_models/README.md; {DESRA_MODEL_SOURCES["gan"]}; '
                 f'{DESRA_MODEL_SOURCES["finetuned"]}')
#: Where each kind of input folder comes from, by option key.
FOLDER_SOURCES = {
    'dataroot_mask': 'the masks/ folder of a detect run (desra/detect.py)',
    'dataroot_mse': f'MSE-SR images; the DeSRA dataset: {"; ".join(DATASET_LINKS)}',
    'dataroot_gan': f'GAN-SR images; the DeSRA dataset: {"; ".join(DATASET_LINKS)}',
    'dataroot_lq': f'LR images; the DeSRA dataset: {"; ".join(DATASET_LINKS)}',
}
#: Where the demo's options look for the demo data, and how a user gets it there.
DEMO_DATA_FOLDER = os.path.join('datasets', 'demo')
DEMO_DATA_SOURCE = ('the demo data: `desra-options demo` copies it into ./datasets/demo (a checkout has it; run from '
                    'the folder that holds it)')
#: The networks each command runs (LR mode of detect; always for test and infer).
COMMAND_NETWORKS = {'detect': ('mse', 'gan'), 'test': ('mse', 'gan', 'finetuned'), 'infer': ('g',)}
#: The ``datasets:`` entry each command reads its images from.
COMMAND_PHASES = {'detect': 'detect', 'test': 'test', 'infer': 'test', 'build_dataset': 'build'}


class MissingInputsError(OptionError):
    """Inputs named by the options are missing; the message lists them all, each with where to get it."""


def weight_source(path):
    """Where to get the weight file ``path`` (by its file name)."""
    name = os.path.basename(path)
    if name.startswith('net_g_') or name.startswith('net_d_'):
        return 'made by desra/train.py (experiments/<name>/models/)'
    return WEIGHT_SOURCES.get(name, OTHER_WEIGHTS)


def check_outputs_apart(opt, outputs, source):
    """Refuse outputs that are, contain or lie inside an input folder.

    Args:
        opt (dict): The options (their ``datasets:*:dataroot_*`` are the inputs).
        outputs (list[tuple[str, str]]): ``(what, folder)`` of every folder the command writes.
        source (str): The option file, for the message.

    Raises:
        OptionError: Each overlapping pair, naming both folders.
    """
    problems = []
    for key, folder in input_folders(opt):
        for what, output in outputs:
            if overlap(output, folder):
                relation = ('is' if real_path(output) == real_path(folder) else
                            'lies inside' if is_within(output, folder) else 'contains')
                problems.append(f'{what} {output} {relation} the input folder {key} ({folder}): outputs must '
                                'never overwrite or mix with inputs; change name, path:results_root or --root')
    if problems:
        raise OptionError(f'{source}: ' + '\n  '.join(problems))


def _dataset_problems(opt, command):
    phases = ([COMMAND_PHASES[command]] if command in COMMAND_PHASES
              else [phase for phase in (opt.get('datasets') or {})])
    problems = []
    for phase in phases:
        dataset = (opt.get('datasets') or {}).get(phase) or {}
        for key, value in dataset.items():
            if key.startswith('dataroot_') and value and not os.path.isdir(os.path.expanduser(value)):
                source = (f'made by desra/build_dataset.py (its {key[len("dataroot_"):]}/ folder)' if phase == 'train'
                          else DEMO_DATA_SOURCE if is_within(value, DEMO_DATA_FOLDER)
                          else FOLDER_SOURCES.get(key, 'a folder of images'))
                why = not_found(os.path.expanduser(value), 'folder')
                problems.append(f'datasets:{phase}:{key}: {value}: {why} ({source})')
        meta_info = dataset.get('meta_info_file')
        if meta_info and not os.path.isfile(os.path.expanduser(meta_info)):
            problems.append(f'datasets:{phase}:meta_info_file: {meta_info}: {not_found(os.path.expanduser(meta_info))} '
                            '(written by '
                            'desra/build_dataset.py as meta_info.txt, or a list of image names)')
    return problems


def _network_problems(opt, roles, required):
    problems = []
    paths = opt.get('path') or {}
    for role in roles:
        key = f'pretrain_network_{role}'
        path = paths.get(key)
        if not path:
            if required:
                problems.append(f'path:{key}: not set (the weights of network_{role})')
        elif is_hub_id(path):
            try:
                resolve_weights(path)  # fetched now (when allowed), or found in the Hugging Face cache
            except (FileNotFoundError, ValueError) as error:
                problems.append(f'path:{key}: {error}')
        elif not os.path.isfile(os.path.expanduser(path)):
            why = not_found(os.path.expanduser(path))
            problems.append(f'path:{key}: {path}: {why} (get it: {weight_source(path)})')
    return problems


def _segmenter_problems(detector_opt, key_path):
    segmenter = dict(DEFAULT_DETECTOR_OPT['segmenter'], **((detector_opt or {}).get('segmenter') or {}))
    if str(segmenter['type']).lower() != 'segformer':
        return []
    try:
        check_segformer_weights(segmenter['model_path'])
    except SegmenterWeightsError as error:
        return [f'{key_path}:segmenter:model_path: {error}']
    return []


def _vgg_problems(train_opt):
    perceptual = (train_opt or {}).get('perceptual_opt')
    if not perceptual:
        return []
    try:
        find_vgg19_weights(perceptual.get('vgg19_path') if perceptual.get('type') == 'RegionPerceptualLoss' else None)
    except FileNotFoundError as error:
        return [f'train:perceptual_opt: {error}']
    return []


def _wandb_problems(logger_opt):
    """wandb as basicsr uses it: ``logger: wandb: project`` syncs the tensorboard log, so it needs
    ``use_tb_logger: true``, and the ``wandb`` package (only then)."""
    if not ((logger_opt or {}).get('wandb') or {}).get('project'):
        return []
    problems = []
    if not logger_opt.get('use_tb_logger'):
        problems.append('logger:wandb:project needs logger:use_tb_logger: true (wandb syncs the tensorboard log)')
    try:
        import wandb  # noqa: F401
    except ImportError:
        problems.append('logger:wandb:project is set but the wandb package is not installed (pip install wandb; '
                        'or set logger:wandb:project: ~)')
    return problems


def _training_problems(opt, resuming):
    paths = opt.get('path') or {}
    problems = _wandb_problems(opt.get('logger'))
    if paths.get('resume_state') and not os.path.isfile(os.path.expanduser(paths['resume_state'])):
        problems.append(f'path:resume_state: {paths["resume_state"]}: '
                        f'{not_found(os.path.expanduser(paths["resume_state"]))}')
    if not resuming:  # a training state holds net_g and net_d
        problems += _network_problems(opt, [role for role in ('g', 'd') if paths.get(f'pretrain_network_{role}')],
                                      required=False)
    validating = opt.get('val') is not None
    if validating and 'network_mse' in opt:
        problems += _network_problems(opt, ['mse'], required=True)
    problems += _vgg_problems(opt.get('train'))
    if validating and opt.get('model_type') != TWIN_MODEL:  # a twin's validation is PSNR, no detector
        problems += _segmenter_problems(opt['val'].get('detector'), 'val:detector')
    return problems


def check_inputs_exist(opt, command, source, resuming=False):
    """Look for every input the options name; raise once with all the missing ones.

    Args:
        opt (dict): The checked options (:func:`desra.config.schema.check_options`).
        command (str): ``detect``, ``build_dataset``, ``test``, ``infer`` or ``train``.
        source (str): The option file, for the message.
        resuming (bool): Training resumes from a state (which holds the weights of ``pretrain_network_g/d``).

    Raises:
        MissingInputsError: One line per missing item, with where to get it.
    """
    problems = _dataset_problems(opt, command)
    if command == 'train':
        problems += _training_problems(opt, resuming)
    elif command in COMMAND_NETWORKS:
        dataset = (opt.get('datasets') or {}).get(COMMAND_PHASES[command]) or {}
        lr_mode = command != 'detect' or not (dataset.get('dataroot_mse') or dataset.get('dataroot_gan'))
        if lr_mode:
            problems += _network_problems(opt, COMMAND_NETWORKS[command], required=True)
        if command in ('detect', 'test'):
            problems += _segmenter_problems(opt.get('detector'), 'detector')
    if problems:
        raise MissingInputsError(f'{source}: {len(problems)} input(s) missing; nothing was done:\n  '
                                 + '\n  '.join(problems))
