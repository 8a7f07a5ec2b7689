"""desra/train.py on the CPU: a run interrupted and resumed with --auto_resume ends bit-identical to an unbroken one."""
import functools
import re

import pytest
import torch
import yaml

import desra  # noqa: F401  (registrations)
from desra import train
from desra.models.desra_model import DeSRAModel
from tests.conftest import TINY_RRDB_OPT, run_command
from tests.test_desra_model import TINY_SWINIR_OPT

SCALE = 4


def write_options(tmp_path, data_root, name, network_g, **train_overrides):
    """A 6-iteration CPU fine-tuning of a tiny generator + UNet discriminator, checkpoints every 3 iterations."""
    opt = {
        'name': name, 'model_type': 'DeSRAModel', 'scale': SCALE, 'num_gpu': 0, 'manual_seed': 7,
        'datasets': {'train': {
            'name': 'tiny', 'type': 'DeSRADataset', 'dataroot_gt': str(data_root / 'gt'),
            'dataroot_lq': str(data_root / 'lq'), 'dataroot_mask': str(data_root / 'mask'),
            'io_backend': {'type': 'disk'}, 'gt_size': 32, 'use_hflip': True, 'use_rot': True,
            'artifact_crop_prob': 0.5, 'num_worker_per_gpu': 0, 'batch_size_per_gpu': 2,
            'dataset_enlarge_ratio': 1}},
        'network_g': network_g,
        'network_d': {'type': 'UNetDiscriminatorSN', 'num_in_ch': 3, 'num_feat': 8, 'skip_connection': True},
        'path': {'pretrain_network_g': None, 'pretrain_network_d': None, 'resume_state': None},
        'train': {
            'ema_decay': 0.999,
            'optim_g': {'type': 'Adam', 'lr': 1e-3, 'weight_decay': 0, 'betas': [0.9, 0.99]},
            'optim_d': {'type': 'Adam', 'lr': 1e-3, 'weight_decay': 0, 'betas': [0.9, 0.99]},
            'scheduler': {'type': 'MultiStepLR', 'milestones': [4], 'gamma': 0.5},
            'total_iter': 6, 'warmup_iter': -1,
            'pixel_opt': {'type': 'L1Loss', 'loss_weight': 1.0},
            'masked_pixel_opt': {'type': 'MaskedL1Loss', 'loss_weight': 1.0},
            'gan_opt': {'type': 'RegionGANLoss', 'gan_type': 'vanilla', 'loss_weight': 0.1},
            'gan_mask_weight': 0.5, 'net_d_iters': 1, 'net_d_init_iters': 1},
        'logger': {'print_freq': 1, 'save_checkpoint_freq': 3, 'use_tb_logger': False},
    }
    opt['train'].update(train_overrides)
    path = tmp_path / f'{name}.yml'
    path.write_text(yaml.safe_dump(opt))
    return path


def run_train(root, option_file, *extra):
    return train.main(['-opt', str(option_file), *extra], root_path=str(root))


def interrupt_at(monkeypatch, stop_iter):
    """Make optimize_parameters raise KeyboardInterrupt at ``stop_iter``, after half of that iteration's work."""
    optimize = DeSRAModel.optimize_parameters

    def interrupted(self, current_iter):
        if current_iter == stop_iter:
            self.optimizer_g.step()  # a partly done iteration must not leak into the resumed run
            raise KeyboardInterrupt
        optimize(self, current_iter)

    monkeypatch.setattr(DeSRAModel, 'optimize_parameters', interrupted)


def load(root, name, file):
    return torch.load(root / 'experiments' / name / 'models' / file, weights_only=True)


#: Two Swin layers: stochastic depth (drop_path_rate 0.1, 0 in the first layer) draws from torch's random state
#: while training, so resuming must restore it.
SWINIR_WITH_DROP_PATH = {**TINY_SWINIR_OPT, 'depths': [1, 1], 'num_heads': [2, 2]}


#: The consistent target with a fixed first layer: the frozen generator must come back from the state (a resumed
#: run is built without the pretrained weights).
FROZEN_TARGET = {'target_outside': 'frozen_generator', 'fixed_params': ['conv_first']}


@pytest.mark.parametrize('network_g, amp, extra', [(TINY_RRDB_OPT, False, {}), (SWINIR_WITH_DROP_PATH, False, {}),
                                                   (TINY_RRDB_OPT, 'fp16', {}), (TINY_RRDB_OPT, 'bf16', FROZEN_TARGET)],
                         ids=['rrdbnet', 'swinir', 'rrdbnet_fp16', 'rrdbnet_bf16_frozen_target'])
def test_interrupted_and_resumed_run_is_bit_identical(tmp_path, tiny_dataset, monkeypatch, network_g, amp, extra):
    """fp16 (autocast on the CPU) adds the gradient scaler, whose scale and growth tracker the state must keep."""
    if amp == 'fp16':  # a scale that grows every step and overflows: some steps are skipped, so the scale matters
        monkeypatch.setattr(torch.amp, 'GradScaler', functools.partial(torch.amp.GradScaler, init_scale=2.0 ** 20,
                                                                       growth_interval=1))
    run_train(tmp_path, write_options(tmp_path, tiny_dataset, 'unbroken', dict(network_g), amp=amp, **extra))

    option_file = write_options(tmp_path, tiny_dataset, 'resumed', dict(network_g), amp=amp, **extra)
    with monkeypatch.context() as patch:
        interrupt_at(patch, 5)  # 4 images, batch 2: iteration 5 is in the third epoch; state saved at 3
        with pytest.raises(KeyboardInterrupt):
            run_train(tmp_path, option_file, '--auto_resume')
    states = tmp_path / 'experiments' / 'resumed' / 'training_states'
    assert sorted(p.name for p in states.iterdir()) == ['3.state']
    state = torch.load(states / '3.state', weights_only=True)
    assert (state['epoch'], state['iter'], state['sampler_position']) == (1, 3, 2)
    assert set(state) >= {'epoch', 'iter', 'optimizers', 'schedulers', 'grad_scaler', 'rng_states', 'net_g',
                          'net_g_ema', 'net_d'}
    assert bool(state['grad_scaler']) == (amp == 'fp16')  # an fp16 run saves the scaler's scale and tracker
    assert ('net_g_frozen' in state) == bool(extra)

    torch.manual_seed(12345)  # whatever the process did before, the state decides
    run_train(tmp_path, option_file, '--auto_resume')

    for file, keys in (('net_g_latest.pth', ('params', 'params_ema')), ('net_d_latest.pth', ('params',))):
        unbroken, resumed = load(tmp_path, 'unbroken', file), load(tmp_path, 'resumed', file)
        for key in keys:
            assert unbroken[key].keys() == resumed[key].keys()
            for name, value in unbroken[key].items():
                assert torch.equal(value, resumed[key][name]), f'{file} {key} {name} differs after resuming'
    # the run really trained: the generator moved away from the iteration-3 weights
    assert not torch.equal(load(tmp_path, 'resumed', 'net_g_6.pth')['params']['conv_last.weight'],
                           state['net_g']['conv_last.weight'])
    if extra:  # the frozen generator is the unbroken run's initial one, and the fixed layer never moved
        initial = load(tmp_path, 'unbroken', 'net_g_3.pth')['params']['conv_first.weight']
        assert torch.equal(state['net_g_frozen']['conv_first.weight'], initial)
        assert torch.equal(load(tmp_path, 'resumed', 'net_g_latest.pth')['params']['conv_first.weight'], initial)
    if amp == 'fp16':  # resuming the fp16 state in full precision would drop the scaler: refused
        with pytest.raises(ValueError, match='train:amp differs from the run being resumed'):
            run_train(tmp_path, write_options(tmp_path, tiny_dataset, 'resumed', dict(network_g)),
                      '--auto_resume')


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the error of a machine without CUDA')
def test_num_gpu_without_cuda_is_refused_before_any_folder_is_made(tmp_path, tiny_dataset):
    option_file = write_options(tmp_path, tiny_dataset, 'gpu_run', dict(TINY_RRDB_OPT))
    with pytest.raises(ValueError, match=r'gpu_run\.yml: num_gpu is 1 but CUDA is not available'):
        run_train(tmp_path, option_file, '--force_yml', 'num_gpu=1')
    assert not (tmp_path / 'experiments').exists()


def test_training_terminal_is_quiet_and_its_eta_right(tmp_path, tiny_dataset):
    """The network structures, the option dump and basicsr's builder lines go to the log file only, no warning
    reaches the terminal; the progress lines' ETA counts down to 0:00:00 at the last iteration (basicsr's reads
    -1 day, 23:59:59 there)."""
    option_file = write_options(tmp_path, tiny_dataset, 'quiet', dict(TINY_RRDB_OPT))
    result = run_command(['desra/train.py', '-opt', str(option_file), '--root', str(tmp_path)])
    assert result.returncode == 0, result.stderr
    terminal = result.stdout + result.stderr
    log = next((tmp_path / 'experiments' / 'quiet').glob('train_quiet_*.log')).read_text()
    for noise in ('RRDBNet(', 'Network [RRDBNet] is created.', 'Version Information', 'datasets:['):
        assert noise in log and noise not in terminal, noise
    etas = re.findall(r'\[eta: ([^,]+), time', terminal)
    assert len(etas) == 6 and etas[-1] == '0:00:00' and not any(eta.startswith('-') for eta in etas), etas
    assert 'Start training from epoch 0, iter 0.' in terminal
    assert 'Warning' not in terminal  # torch's note on basicsr's scheduler order among them
