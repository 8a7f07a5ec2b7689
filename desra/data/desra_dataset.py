"""DeSRADataset: LR / pseudo-GT / artifact-mask triples for fine-tuning a GAN-SR model (``type: DeSRADataset``)."""
import os

import numpy as np
import torch
from basicsr.utils.registry import DATASET_REGISTRY
from torch.utils import data as data

from desra.data.aligned_crop import ArtifactParts, random_window
from desra.io.images import decode_image, read_image
from desra.io.names import index_images, read_name_list
from desra.metrics.detection_metrics import load_mask

#: What each folder holds, for messages.
LABELS = {'gt': 'GT image', 'lq': 'LR image', 'mask': 'mask'}
#: Unusable images listed in a construction error before it says "and N more".
MAX_LISTED = 10


@DATASET_REGISTRY.register()
class DeSRADataset(data.Dataset):
    """LR images, their pseudo-GT and artifact masks, as written by ``desra/build_dataset.py``.

    Options are those of basicsr's ``PairedImageDataset`` plus the mask folder:

    * ``dataroot_gt``, ``dataroot_lq``, ``dataroot_mask`` (str): Folders, searched recursively. The GT image, LR
      image and mask of a sample share their relative path and stem (extensions may differ: ``a/b.png`` pairs with
      ``a/b.jpg``). A mask pixel is an artifact when at least half the file's maximum (0/255 masks).
    * ``meta_info_file`` (str, optional): The samples, one per line as ``desra/build_dataset.py`` writes them
      (``<name>.png``; basicsr's ``name (h,w,c)`` lines work too, see
      :func:`~desra.io.names.read_name_list`); default: every image under ``dataroot_gt``.
    * ``io_backend`` (dict): ``{type: disk}``, the only backend supported.
    * ``scale`` (int), ``phase`` ('train' | 'val'): Filled in by basicsr's ``build_dataset``.
    * ``gt_size`` (int, train): HR crop side, a multiple of ``scale``; the LR crop is ``gt_size // scale``.
    * ``use_hflip``, ``use_rot`` (bool, train, default true): Random horizontal flip; random vertical flip and
      transpose (rotations by multiples of 90 degrees). The same on LR, GT and mask.
    * ``artifact_crop_prob`` (float, train, default 0.5): Probability that a crop is centred on an artifact
      (:func:`~desra.data.aligned_crop.random_window`); otherwise crops are uniform.

    Item (``dataset[index]`` or ``dataset[(index, sample_seed)]``): a dict with

    * ``lq``: float32 tensor (3, h, w), RGB, [0, 1];
    * ``gt``: float32 tensor (3, scale * h, scale * w), RGB, [0, 1];
    * ``mask``: float32 tensor (1, scale * h, scale * w), 1 = artifact, 0 elsewhere;
    * ``lq_path``, ``gt_path``, ``mask_path``: str.

    In the train phase these are aligned crops (HR box = scale * LR box exactly) with the same flips and rotation;
    otherwise the whole images. Every random choice comes from ``np.random.default_rng(sample_seed)``: given
    ``(index, sample_seed)`` (from :class:`~desra.data.deterministic_sampler.DeterministicSampler`), the item is
    always the same. A plain int index draws ``sample_seed`` from numpy's global generator, which torch's DataLoader
    seeds per worker.

    Raises (at construction):
        FileNotFoundError: A folder or the meta-info file is missing, or samples lack a GT image, LR image or mask
            (the message lists them).
        ValueError: No samples; two images of a folder share a name; ``gt_size`` missing or not a multiple of
            ``scale``; an io backend other than disk.
    """

    def __init__(self, opt):
        super().__init__()
        self.opt = opt
        backend = opt.get('io_backend', {}).get('type', 'disk')
        if backend != 'disk':
            raise ValueError(f'DeSRADataset: io_backend type "{backend}" is not supported; use "disk"')
        self.scale = int(opt['scale'])
        self.phase = opt.get('phase', 'train')
        self.gt_folder, self.lq_folder, self.mask_folder = opt['dataroot_gt'], opt['dataroot_lq'], opt['dataroot_mask']
        if self.phase == 'train':
            gt_size = opt.get('gt_size')
            if not isinstance(gt_size, int) or gt_size < 2 * self.scale or gt_size % self.scale:
                raise ValueError(f'DeSRADataset: gt_size must be a multiple of scale ({self.scale}) and at least '
                                 f'{2 * self.scale}, got {gt_size}')
            self.lq_size = gt_size // self.scale
            self.use_hflip = opt.get('use_hflip', True)
            self.use_rot = opt.get('use_rot', True)
            self.artifact_crop_prob = float(opt.get('artifact_crop_prob', 0.5))
        self.paths = self._pair_paths()
        self._artifact_parts = {}  # sample index -> ArtifactParts of its mask, made on its first crop

    def _pair_paths(self):
        """The ``{'lq_path', 'gt_path', 'mask_path'}`` of every sample, checking that all files exist."""
        folders = {'gt': self.gt_folder, 'lq': self.lq_folder, 'mask': self.mask_folder}
        indexes = {key: index_images(folder, key) for key, folder in folders.items()}
        meta_info_file = self.opt.get('meta_info_file')
        names = read_name_list(meta_info_file) if meta_info_file else list(indexes['gt'])
        if not names:
            raise ValueError(f'DeSRADataset: no images in {meta_info_file or self.gt_folder} (dataroot_gt '
                             f'{self.gt_folder}, dataroot_lq {self.lq_folder}, dataroot_mask {self.mask_folder})')
        paths, problems = [], []
        for name in names:
            missing = [f'{what} {name}.* in {folders[key]}' for key, what in LABELS.items() if name not in indexes[key]]
            if missing:
                problems.append(f'{indexes["gt"].get(name, os.path.join(self.gt_folder, name))}: no '
                                + ', no '.join(missing))
            else:
                paths.append({f'{key}_path': indexes[key][name] for key in folders})
        if problems:
            more = f'\n  ... and {len(problems) - MAX_LISTED} more' if len(problems) > MAX_LISTED else ''
            raise FileNotFoundError(f'DeSRADataset: {len(problems)} image(s) cannot be used:\n  '
                                    + '\n  '.join(problems[:MAX_LISTED]) + more)
        return paths

    def __getitem__(self, item):
        index, seed = item if isinstance(item, tuple) else (item, np.random.randint(np.iinfo(np.int64).max))
        rng = np.random.default_rng(seed)
        paths = self.paths[index]
        lq, gt = read_image(paths['lq_path']), read_image(paths['gt_path'])  # file arrays: crop before converting
        mask = load_mask(paths['mask_path'])
        self._check_sizes(paths, lq.shape[:2], gt.shape[:2], mask.shape)

        if self.phase == 'train':
            if min(lq.shape[:2]) < self.lq_size:
                raise ValueError(f'{paths["lq_path"]}: LR image {lq.shape[0]}x{lq.shape[1]} is smaller than the '
                                 f'LR crop {self.lq_size}x{self.lq_size} (gt_size {self.opt["gt_size"]} / scale '
                                 f'{self.scale}); remove it or lower gt_size')
            window = random_window(rng, self._parts(index, mask), lq.shape[:2], self.lq_size, self.scale,
                                   self.artifact_crop_prob)
            lq, gt, mask = window.crop(lq), window.crop(gt, self.scale), window.crop(mask, self.scale)
            lq, gt, mask = self._augment(rng, [decode_image(lq).rgb, decode_image(gt).rgb, mask[..., None]])
        else:
            lq, gt, mask = decode_image(lq).rgb, decode_image(gt).rgb, mask[..., None]

        return {'lq': _to_tensor(lq), 'gt': _to_tensor(gt), 'mask': _to_tensor(mask.astype(np.float32)), **paths}

    def _parts(self, index, mask):
        """The :class:`ArtifactParts` of sample ``index``'s mask: labelled on its first crop, then reused.

        Each DataLoader worker keeps its own; they last as long as the worker (an epoch, unless
        ``persistent_workers``).
        """
        if index not in self._artifact_parts:
            self._artifact_parts[index] = ArtifactParts.from_mask(mask)
        return self._artifact_parts[index]

    def _check_sizes(self, paths, lq_shape, gt_shape, mask_shape):
        """Raise ValueError naming the three files unless GT = mask = scale x LR in size."""
        expected = (lq_shape[0] * self.scale, lq_shape[1] * self.scale)
        if gt_shape != expected or mask_shape != expected:
            raise ValueError(f'size mismatch at scale {self.scale}: LR {paths["lq_path"]} is {lq_shape[0]}x'
                             f'{lq_shape[1]} (so HR should be {expected[0]}x{expected[1]}), GT {paths["gt_path"]} '
                             f'is {gt_shape[0]}x{gt_shape[1]}, mask {paths["mask_path"]} is '
                             f'{mask_shape[0]}x{mask_shape[1]}')

    def _augment(self, rng, imgs):
        """The same random horizontal flip, vertical flip and transpose on every (H, W, C) array of ``imgs``."""
        hflip = self.use_hflip and rng.random() < 0.5
        vflip = self.use_rot and rng.random() < 0.5
        transpose = self.use_rot and rng.random() < 0.5
        if hflip:
            imgs = [img[:, ::-1] for img in imgs]
        if vflip:
            imgs = [img[::-1] for img in imgs]
        if transpose:
            imgs = [img.transpose(1, 0, 2) for img in imgs]
        return imgs

    def __len__(self):
        return len(self.paths)


def _to_tensor(img):
    """(H, W, C) array -> contiguous (C, H, W) float32 tensor."""
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1), dtype=np.float32))
