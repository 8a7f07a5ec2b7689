"""The reference twin (issue 16): desra/train.py with model_type ReferenceTwinModel on tiny networks, on the CPU."""
import json

import numpy as np
import pytest
import torch
import yaml

import desra  # noqa: F401,I001  (registrations, before basicsr)
from basicsr.archs.rrdbnet_arch import RRDBNet
from desra import train
from desra.archs.frozen_features import FrozenFeatures, select_trained_params
from desra.models.reference_twin_model import ReferenceTwinModel
from desra.io.images import write_image

#: The head of a tiny RRDBNet (1 block) after its body, under basicsr's names (the checkpoint's) and spandrel's.
TINY_TAIL = ['conv_body', 'conv_up1', 'conv_up2', 'conv_hr', 'conv_last']
TINY_TAIL_SPANDREL = [r'model\.1\.sub\.1\.', r'model\.(3|6|8|10)\.']


def tiny_esrgan(seed=0):
    """A tiny x4 RRDBNet that spandrel detects (it assumes 32 growth channels)."""
    torch.manual_seed(seed)
    return RRDBNet(3, 3, scale=4, num_feat=8, num_block=1, num_grow_ch=32)


def smooth_image(rng, height, width):
    """A smooth random uint8 RGB image (low-frequency noise upscaled), something a pixel loss can learn."""
    small = rng.integers(0, 256, (height // 8 + 1, width // 8 + 1, 3)).astype(np.float32)
    import cv2
    return np.clip(cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC), 0, 255).astype(np.uint8)


def make_photos(root, sizes=((96, 80), (72, 88))):
    """HR photos ``<root>/hr/<i>.png`` and LR / HR validation pairs ``<root>/val_{lr,hr}/v.png``."""
    rng = np.random.default_rng(0)
    for i, (height, width) in enumerate(sizes):
        write_image(str(root / 'hr' / f'{i}.png'), smooth_image(rng, height, width))
    hr = smooth_image(rng, 64, 64)
    write_image(str(root / 'val_hr' / 'v.png'), hr)
    write_image(str(root / 'val_lr' / 'v.png'), hr[::4, ::4])
    return root


def write_options(tmp_path, name, gan_path, mode='tail', network_g=None, **overrides):
    """A tiny twin run: x4, gt_size 32, batch 2, 4 iterations, checkpoint and validation every 2."""
    opt = {
        'name': name, 'model_type': 'ReferenceTwinModel', 'scale': 4, 'num_gpu': 0, 'manual_seed': 3,
        'queue_size': 4,
        'datasets': {
            'train': {'name': 'hr', 'type': 'ReferenceTwinDataset', 'dataroot_gt': str(tmp_path / 'hr'),
                      'io_backend': {'type': 'disk'}, 'gt_size': 32, 'num_worker_per_gpu': 0,
                      'batch_size_per_gpu': 2, 'dataset_enlarge_ratio': 4},
            'val': {'name': 'pairs', 'type': 'ReferenceTwinDataset', 'dataroot_gt': str(tmp_path / 'val_hr'),
                    'dataroot_lq': str(tmp_path / 'val_lr'), 'io_backend': {'type': 'disk'}}},
        'network_g': network_g or {'type': 'auto'},
        'path': {'pretrain_network_g': str(gan_path), 'strict_load_g': True},
        'train': {'twin_mode': mode, 'trained_params': TINY_TAIL_SPANDREL if mode == 'tail' else None, 'feature_pool': 3,
                  'ema_decay': 0.5, 'optim_g': {'type': 'Adam', 'lr': 1e-2, 'betas': [0.9, 0.99]},
                  'scheduler': {'type': 'MultiStepLR', 'milestones': [100], 'gamma': 0.5},
                  'total_iter': 4, 'pixel_opt': {'type': 'L1Loss', 'loss_weight': 1.0}},
        'val': {'val_freq': 2},
        'logger': {'print_freq': 1, 'save_checkpoint_freq': 2, 'use_tb_logger': False},
    }
    for key, value in overrides.items():
        node = opt
        *parents, last = key.split(':')
        for parent in parents:
            node = node[parent]
        node[last] = value
    path = tmp_path / f'{name}.yml'
    path.write_text(yaml.safe_dump(opt))
    return path


@pytest.fixture
def gan_checkpoint(tmp_path):
    """A tiny x4 RRDBNet checkpoint standing for a GAN model without a parent (``params_ema``)."""
    path = tmp_path / 'gan.pth'
    torch.save({'params_ema': tiny_esrgan().state_dict()}, path)
    return path


def run(tmp_path, option_file, *extra):
    return train.main(['-opt', str(option_file), *extra], root_path=str(tmp_path))


def test_tail_mode_trains_only_the_tail_and_writes_a_twin(tmp_path, gan_checkpoint):
    make_photos(tmp_path)
    assert run(tmp_path, write_options(tmp_path, 'twin', gan_checkpoint)) == 0
    models = tmp_path / 'experiments' / 'twin' / 'models'
    gan = torch.load(gan_checkpoint, weights_only=True)['params_ema']
    twin = torch.load(models / 'net_g_latest.pth', weights_only=True)
    assert twin['reference'] == {'kind': 'twin', 'twin_of': str(gan_checkpoint), 'twin_mode': 'tail'}
    changed = {name for name, value in twin['params'].items() if not torch.equal(value, gan[name])}
    assert changed and all(name.split('.')[0] in TINY_TAIL for name in changed)
    assert all(torch.equal(twin['params'][name], gan[name]) for name in gan if name.split('.')[0] not in TINY_TAIL)
    tail = torch.load(models / 'tail_latest.pth', weights_only=True)['params']
    assert sorted(tail) == sorted(name for name in gan if name.split('.')[0] in TINY_TAIL)
    assert all(value.dtype == torch.float16 for value in tail.values())
    summary = json.loads((tmp_path / 'experiments' / 'twin' / 'reference_twin.json').read_text())
    assert summary['checkpoint'] == str(models / 'net_g_latest.pth') and summary['twin_mode'] == 'tail'
    assert set(summary['validation']['pairs']) >= {'psnr', 'psnr_bicubic', 'worse_than_bicubic'}
