"""Validation while fine-tuning: how much artifact area DeSRA's detector (Stage 1) still finds.

For each held-out LR image of a validation dataset (basicsr's ``SingleImageDataset``: ``lq`` (1, 3, h, w) RGB [0, 1]
and ``lq_path``), the current generator's SR result is compared with the image's MSE-SR by
:class:`desra.detection.ArtifactDetector`. The MSE-SR comes from

* the validation dataset's folder ``dataroot_mse`` (the file with the LR image's relative stem, any extension, of
  size scale x LR), or else
* the MSE network ``network_mse`` with weights ``path:pretrain_network_mse`` (``path:param_key_mse``, default auto),
  run once per image and kept in memory for the later validations.

Logged per validation: the total number of artifact pixels and their fraction of all SR pixels (also to tensorboard
as ``metrics/<dataset>/artifact_pixels`` and ``artifact_fraction``); with ``val:save_img``, each image's figures too,
and its SR result and mask in ``visualization/<img>/<img>_<iter>.png`` and ``<img>_<iter>_artifacts.png``.

Options (``val:``): ``val_freq``, ``save_img``, ``detector`` (the ``detector:`` options of the detect command),
``tile`` and ``tile_pad`` (SR in tiles of that many LR pixels; 0 = whole images).
"""
import os

import numpy as np
from basicsr.utils import get_root_logger

from desra.utils.image_names import index_images, stem_of
from desra.detection import ArtifactDetector
from desra.inference import TiledUpsampler, build_upsampler
from desra.utils.img_io import load_rgb255, write_image
from desra.utils.progress import progress_bar


def to_rgb255(rgb):
    """Float RGB in [0, 1] (H, W, 3) -> float64 RGB on the 0..255 scale, rounded as an 8-bit image file would be."""
    return np.round(np.clip(rgb, 0, 1) * 255.0).astype(np.float64)


class ArtifactAreaValidator:
    """Measures the detected artifact area of a generator's results on validation LR images (module docstring).

    Args:
        opt (dict): The training options (``scale``, ``val``, ``datasets``, ``network_mse``, ``path``).
        device (torch.device): Where the networks run.

    Raises:
        ValueError: A validation dataset has neither ``dataroot_mse`` nor ``network_mse`` to get MSE-SR from.
        KeyError / FileNotFoundError: ``network_mse`` without its weights (from ``build_upsampler``).
    """

    def __init__(self, opt, device):
        self.opt = opt
        self.device = device
        self.scale = opt['scale']
        val_opt = opt['val']
        self.tile, self.tile_pad = val_opt.get('tile', 0), val_opt.get('tile_pad', 10)
        self.detector = ArtifactDetector(val_opt.get('detector', {}), device)
        val_datasets = [d for phase, d in opt['datasets'].items() if phase.split('_')[0] == 'val']
        self.mse_upsampler = None
        if 'network_mse' in opt:
            tile_opt = {'tile_size': self.tile, 'tile_pad': self.tile_pad}
            self.mse_upsampler = build_upsampler(opt, 'mse', device, tile_opt=tile_opt)
        elif any(not d.get('dataroot_mse') for d in val_datasets):
            raise ValueError('validation needs MSE-SR images: set datasets:val:dataroot_mse, or network_mse with '
                             'path:pretrain_network_mse')
        self.mse_cache = {}
        self.mse_indexes = {}  # dataroot_mse -> {name: path}, listed once

    def mse_sr(self, dataset_opt, lq_path, lq):
        """The MSE-SR of one LR image, float64 (H, W, 3) RGB 0..255 (read from ``dataroot_mse`` or computed once)."""
        if lq_path not in self.mse_cache:
            if dataset_opt.get('dataroot_mse'):
                root = dataset_opt['dataroot_mse']
                stem = stem_of(os.path.relpath(lq_path, dataset_opt['dataroot_lq']))
                if root not in self.mse_indexes:
                    self.mse_indexes[root] = index_images(root, 'MSE-SR')
                index = self.mse_indexes[root]
                if stem not in index:
                    raise FileNotFoundError(f'{lq_path}: no MSE-SR {stem}.* in dataroot_mse {root}')
                self.mse_cache[lq_path] = load_rgb255(index[stem])
            else:
                self.mse_cache[lq_path] = to_rgb255(self.mse_upsampler.upscale_rgb(lq))
        return self.mse_cache[lq_path]

    def validate(self, net, dataloader, current_iter, tb_logger, save_img):
        """Run the validation of ``net`` on one dataset and log the figures.

        Args:
            net (nn.Module): The generator (left in eval mode).
            dataloader (DataLoader): Batches of one LR image (``lq``, ``lq_path``).
            current_iter (int): Iteration, for the log and the image names.
            tb_logger (SummaryWriter | None): Tensorboard writer.
            save_img (bool): Also log each image and save its SR result and mask.

        Returns:
            tuple[int, float]: Total artifact pixels and their fraction of all SR pixels.
        """
        logger = get_root_logger()
        dataset_opt = dataloader.dataset.opt
        upsampler = TiledUpsampler(net, self.scale, self.tile, self.tile_pad, device=self.device)
        artifact_pixels = total_pixels = 0
        for data in progress_bar(dataloader, f'validation {dataset_opt["name"]}', 'img', leave=False):
            lq_path = data['lq_path'][0]
            lq = data['lq'][0].permute(1, 2, 0).numpy()
            sr = to_rgb255(upsampler.upscale_rgb(lq))
            mse = self.mse_sr(dataset_opt, lq_path, lq)
            if mse.shape != sr.shape:
                raise ValueError(f'{lq_path}: the MSE-SR is {mse.shape[1]}x{mse.shape[0]} but the SR result is '
                                 f'{sr.shape[1]}x{sr.shape[0]} (WxH)')
            mask = self.detector.detect(mse, sr).mask
            count = int(mask.sum())
            artifact_pixels += count
            total_pixels += mask.size
            if save_img:
                name = os.path.splitext(os.path.basename(lq_path))[0]
                folder = os.path.join(self.opt['path']['visualization'], name)
                write_image(os.path.join(folder, f'{name}_{current_iter}.png'), sr[..., ::-1].astype(np.uint8))
                write_image(os.path.join(folder, f'{name}_{current_iter}_artifacts.png'), mask.astype(np.uint8) * 255)
                logger.info(f'\t{name}: {count} artifact pixels ({count / mask.size:.4%})')
        fraction = artifact_pixels / max(total_pixels, 1)
        name = dataset_opt['name']
        logger.info(f'Validation {name}, iter {current_iter}: {artifact_pixels} artifact pixels '
                    f'({fraction:.4%} of the SR pixels)')
        if tb_logger:
            tb_logger.add_scalar(f'metrics/{name}/artifact_pixels', artifact_pixels, current_iter)
            tb_logger.add_scalar(f'metrics/{name}/artifact_fraction', fraction, current_iter)
        return artifact_pixels, fraction
