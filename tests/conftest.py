"""Shared test fixtures: tiny networks, their checkpoints, and the repository root."""
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
import yaml

import desra  # noqa: F401  (basicsr compatibility and registrations)
from basicsr.archs.rrdbnet_arch import RRDBNet

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: A tiny RRDBNet: the architecture of RealESRGAN_x4plus at a size that runs in milliseconds.
TINY_RRDB_OPT = {'type': 'RRDBNet', 'num_in_ch': 3, 'num_out_ch': 3, 'num_feat': 8, 'num_block': 1, 'num_grow_ch': 4,
                 'scale': 4}


class FixedGaussianBlur(torch.nn.Module):
    """A fixed (untrained) Gaussian blur of ``sigma`` pixels on (N, 3, H, W) images, reflected at the border."""

    def __init__(self, sigma):
        super().__init__()
        kernel_1d = torch.from_numpy(cv2.getGaussianKernel(int(6 * sigma) | 1, sigma)).float()
        self.register_buffer('kernel', (kernel_1d @ kernel_1d.T).expand(3, 1, -1, -1).contiguous(), persistent=False)

    def forward(self, x):
        pad = self.kernel.shape[-1] // 2
        return torch.nn.functional.conv2d(torch.nn.functional.pad(x, [pad] * 4, mode='reflect'), self.kernel,
                                          groups=3)


def make_tiny_rrdbnet(seed=0):
    """A deterministic tiny x4 RRDBNet: torch's default initialisation under ``seed``."""
    torch.manual_seed(seed)
    opt = {k: v for k, v in TINY_RRDB_OPT.items() if k != 'type'}
    return RRDBNet(**opt)


def upsample(img, scale=4):
    """Exact nearest-neighbour upsampling of an (h, w[, c]) array: HR built from LR with known alignment."""
    return np.repeat(np.repeat(img, scale, axis=0), scale, axis=1)


def write_random_images(root, names, shape=(12, 14, 3), seed=0):
    """Write uint8 noise images ``<root>/<name>.png`` (``name`` may hold subfolders), the same for the same seed."""
    from desra.io.images import write_image
    rng = np.random.default_rng(seed)
    for name in names:
        write_image(os.path.join(root, f'{name}.png'), rng.integers(0, 256, shape, dtype=np.uint8))


def save_tiny_checkpoints(folder, roles, param_key='params'):
    """Save a tiny RRDBNet checkpoint ``<folder>/<role>.pth`` per role (seeded by its position); return the paths."""
    paths = {}
    for seed, role in enumerate(roles):
        paths[role] = os.path.join(folder, f'{role}.pth')
        torch.save({param_key: make_tiny_rrdbnet(seed).state_dict()}, paths[role])
    return paths


def run_command(args, cwd=REPO_ROOT, **kwargs):
    """Run ``python <args>`` in the repository and return the CompletedProcess (stdout+stderr as text)."""
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, **kwargs)


def run_tiny_test_command(tmp_path, dataset):
    """``desra/test.py`` on ``datasets: test: dataset`` with tiny MSE / GAN / fine-tuned RRDBNets, no segmenter and
    a detector that finds little; results in ``<tmp_path>/results/eval``. Returns (CompletedProcess, run folder)."""
    checkpoints = save_tiny_checkpoints(str(tmp_path), ('mse', 'gan', 'finetuned'))
    opt = {'name': 'eval', 'num_gpu': 0, 'scale': 4, 'datasets': {'test': dataset},
           'path': {'results_root': str(tmp_path / 'results'),
                    **{f'pretrain_network_{role}': path for role, path in checkpoints.items()}},
           'network_mse': TINY_RRDB_OPT, 'network_gan': TINY_RRDB_OPT, 'network_finetuned': TINY_RRDB_OPT,
           'detector': {'threshold': 0.99, 'min_area': 10, 'segmenter': {'type': 'none'}}}
    (tmp_path / 'test.yml').write_text(yaml.safe_dump(opt))
    return run_command(['desra/test.py', '-opt', str(tmp_path / 'test.yml')]), tmp_path / 'results' / 'eval'


@pytest.fixture
def tiny_rrdb_checkpoint(tmp_path):
    """Path of a basicsr-format checkpoint ``{'params_ema': ..., 'params': ...}`` of a tiny RRDBNet."""
    net_ema, net = make_tiny_rrdbnet(0), make_tiny_rrdbnet(1)
    path = tmp_path / 'tiny_rrdb.pth'
    torch.save({'params_ema': net_ema.state_dict(), 'params': net.state_dict()}, path)
    return path


@pytest.fixture(scope='session')
def tiny_dataset(tmp_path_factory):
    """Four LR (16x16) / pseudo-GT (64x64) / mask triples as DeSRADataset reads them (x4), for training runs."""
    root = tmp_path_factory.mktemp('desra_data')
    rng = np.random.default_rng(0)
    for folder in ('lq', 'gt', 'mask'):
        (root / folder).mkdir()
    lq_size, scale = 16, 4
    for i in range(4):
        cv2.imwrite(str(root / 'lq' / f'{i}.png'), rng.integers(0, 256, (lq_size, lq_size, 3), dtype=np.uint8))
        cv2.imwrite(str(root / 'gt' / f'{i}.png'), rng.integers(0, 256, (lq_size * scale,) * 2 + (3,), dtype=np.uint8))
        mask = np.zeros((lq_size * scale,) * 2, np.uint8)
        mask[8 * i:8 * i + 20, 10:40] = 255
        cv2.imwrite(str(root / 'mask' / f'{i}.png'), mask)
    return root
