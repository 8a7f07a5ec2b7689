"""The data of a reference twin: HR photos from a folder, degraded on the fly as Real-ESRGAN's training does.

``type: ReferenceTwinDataset`` is basicsr 1.4.2's ``RealESRGANDataset`` (each HR image flipped, cropped or padded to
400x400, with the random blur, second-blur and sinc kernels of Real-ESRGAN's second-order degradation, which
``ReferenceTwinModel`` applies) reading an image folder instead of basicsr's ``meta_info`` list:

* ``dataroot_gt``: the HR folder (searched recursively); ``meta_info_file`` (+ ``meta_info_key``) restricts it to
  the listed names (``datasets/demo/splits.yml`` with key ``finetune``, never the held-out images). An image that
  does not read or is smaller than ``gt_size`` a side is skipped, and named in ``skipped``
  (:func:`usable_hr_images`); a folder with no usable image is refused;
* the degradation settings default to Real-ESRGAN's (``options/train_realesrnet_x4plus.yml`` of Real-ESRGAN,
  :data:`REAL_ESRGAN_KERNELS`); an option file sets any of them;
* ``crop_pad_size`` (default 400, basicsr's fixed size) cuts each 400x400 HR crop to a smaller random square, which
  the degradation then costs less on (it must hold ``gt_size``);
* every sample draws its randomness from its own seed when the loader's sampler gives one
  (:class:`~desra.data.deterministic_sampler.DeterministicSampler`), so a resumed run sees the same samples.

In a ``val`` phase it gives the LR / HR pairs of ``dataroot_lq`` / ``dataroot_gt`` (same names; the HR cropped to
``scale`` times the LR) for the twin's validation PSNR: ``lq`` (3, h, w), ``gt`` (3, scale*h, scale*w), RGB float
in [0, 1], ``lq_path``. A pair whose LR or HR does not read, or whose HR is not ``scale`` times its LR (up to the
``scale - 1`` pixels a side that an LR made by flooring leaves over), is skipped and named in ``skipped``
(:func:`usable_validation_pairs`); folders with no usable pair are refused.
"""
import os
import random

import numpy as np
import torch
from basicsr.data.realesrgan_dataset import RealESRGANDataset
from basicsr.utils.registry import DATASET_REGISTRY
from torch.utils import data as data

from desra.io.images import ImageReadError, decode_image, read_image
from desra.io.names import index_images, read_name_list

#: Real-ESRGAN's kernel settings of its x4plus training (first and second degradation, final sinc filter).
REAL_ESRGAN_KERNELS = {
    'blur_kernel_size': 21, 'kernel_list': ['iso', 'aniso', 'generalized_iso', 'generalized_aniso', 'plateau_iso',
                                            'plateau_aniso'],
    'kernel_prob': [0.45, 0.25, 0.12, 0.03, 0.12, 0.03], 'sinc_prob': 0.1, 'blur_sigma': [0.2, 3],
    'betag_range': [0.5, 4], 'betap_range': [1, 2],
    'blur_kernel_size2': 21, 'kernel_list2': ['iso', 'aniso', 'generalized_iso', 'generalized_aniso', 'plateau_iso',
                                              'plateau_aniso'],
    'kernel_prob2': [0.45, 0.25, 0.12, 0.03, 0.12, 0.03], 'sinc_prob2': 0.1, 'blur_sigma2': [0.2, 1.5],
    'betag_range2': [0.5, 4], 'betap_range2': [1, 2], 'final_sinc_prob': 0.8,
    'use_hflip': True, 'use_rot': False,
}


def hr_image_paths(opt):
    """The HR images of ``dataroot_gt`` (restricted to ``meta_info_file`` / ``meta_info_key``), sorted by name.

    Raises:
        FileNotFoundError / ValueError: No such folder, or a listed name has no image there (the message names it).
    """
    index = index_images(opt['dataroot_gt'], 'HR')
    if not opt.get('meta_info_file'):
        return [index[name] for name in sorted(index)]
    names = read_name_list(opt['meta_info_file'], opt.get('meta_info_key'))
    missing = [name for name in names if name not in index]
    if missing:
        raise ValueError(f'{opt["meta_info_file"]}: {missing[0]} has no image in {opt["dataroot_gt"]}')
    return [index[name] for name in names]


#: What :func:`image_size` found, keyed by (path, size in bytes, mtime in ns): the preflight, the datasets, tail
#: mode's pool and the GAN's validation check the same folders, and decode each file once per process.
_IMAGE_SIZES = {}


def image_size(path):
    """The (height, width) of an image file in pixels, or why it does not read: the message of
    :class:`~desra.io.images.ImageReadError`, one line naming the file."""
    stat = os.stat(path)
    key = (path, stat.st_size, stat.st_mtime_ns)
    if key not in _IMAGE_SIZES:
        try:
            _IMAGE_SIZES[key] = read_image(path).shape[:2]
        except ImageReadError as error:
            _IMAGE_SIZES[key] = str(error)
    return _IMAGE_SIZES[key]


def usable_hr_images(opt):
    """The HR images of :func:`hr_image_paths` a reference twin trains on: those that read and are at least
    ``gt_size`` pixels a side (when ``opt`` sets it); the others are skipped.

    Returns:
        tuple[list[str], list[str]]: The usable paths, in order, and one line per skipped file,
        ``<path>: <problem>``.

    Raises:
        FileNotFoundError / ValueError: As :func:`hr_image_paths`; ValueError when no image is usable, one line
            naming the folder, the problem and the first skipped file.
    """
    folder, gt_size = opt['dataroot_gt'], opt.get('gt_size')
    usable, skipped = [], []
    for path in hr_image_paths(opt):
        size = image_size(path)
        if isinstance(size, str):
            skipped.append(size)
        elif gt_size and min(size) < gt_size:
            skipped.append(f'{path}: {size[1]}x{size[0]} px is smaller than the crop datasets:train:gt_size '
                           f'{gt_size}')
        else:
            usable.append(path)
    refuse_when_none_usable(
        usable, skipped, f'datasets:train:dataroot_gt: {folder}: no usable image (PNG, JPEG, ... files) in the folder',
        lambda count, first: f'datasets:train:dataroot_gt: {folder}: no usable image: none of its {count} image(s) '
        f'reads and is at least gt_size {gt_size} px a side ({first}); replace them or lower gt_size')
    return usable, skipped


def refuse_when_none_usable(usable, skipped, no_files, none_usable):
    """Raise ValueError when ``usable`` is empty: ``no_files`` when nothing was found either, else the message
    ``none_usable(count, first)`` makes of the number of skipped files and the first skip line (and how many more)."""
    if usable:
        return
    if not skipped:
        raise ValueError(no_files)
    more = f'; and {len(skipped) - 1} more' if len(skipped) > 1 else ''
    raise ValueError(none_usable(len(skipped), skipped[0] + more))


def usable_validation_pairs(opt):
    """The LR / HR pairs of ``dataroot_lq`` / ``dataroot_gt`` a twin is validated on: the HR images of
    :func:`hr_image_paths` and the LR images of the same names, when both read and each HR side is ``scale`` times
    its LR's plus 0 to ``scale - 1`` pixels (the HR is then cropped to ``scale`` times the LR); the others are
    skipped.

    Returns:
        tuple[list[tuple[str, str]], list[str]]: The usable ``(lr_path, hr_path)`` pairs, in the HR images' order,
        and one line per skipped pair naming its file(s) and problem(s).

    Raises:
        FileNotFoundError / ValueError: As :func:`hr_image_paths`; ValueError when an HR image has no LR image of
            its name, or when no pair is usable (one line naming both folders, the problem and the first pair).
    """
    scale, lq_root, gt_root = opt['scale'], opt['dataroot_lq'], opt['dataroot_gt']
    hr_paths = hr_image_paths(opt)
    lq_index = index_images(lq_root, 'LR')
    names = [os.path.splitext(os.path.relpath(path, gt_root))[0].replace(os.sep, '/') for path in hr_paths]
    missing = [name for name in names if name not in lq_index]
    if missing:
        raise ValueError(f'{lq_root}: no LR image {missing[0]} for the HR image of that name')
    usable, skipped = [], []
    for name, hr_path in zip(names, hr_paths):
        lq_path = lq_index[name]
        lq_size, hr_size = image_size(lq_path), image_size(hr_path)
        unreadable = [size for size in (lq_size, hr_size) if isinstance(size, str)]
        if unreadable:
            skipped.append('; '.join(unreadable))
        elif not all(0 <= hr - scale * lq < scale for hr, lq in zip(hr_size, lq_size)):
            skipped.append(f'{hr_path}: {hr_size[1]}x{hr_size[0]} HR is not scale {scale} x its LR image {lq_path} '
                           f'({lq_size[1]}x{lq_size[0]}: {scale * lq_size[1]}x{scale * lq_size[0]} expected, up to '
                           f'{scale - 1} px more a side)')
        else:
            usable.append((lq_path, hr_path))
    refuse_when_none_usable(
        usable, skipped, f'datasets:val {opt["name"]}: {gt_root}: no HR image (PNG, JPEG, ... files) to validate on',
        lambda count, first: f'datasets:val {opt["name"]}: {lq_root} / {gt_root}: no usable LR / HR pair: none of '
        f'its {count} pair(s) reads with an HR of scale {scale} x its LR ({first}); replace them')
    return usable, skipped


def read_rgb(path):
    """An image file as float32 RGB in [0, 1], (H, W, 3) (:func:`desra.io.images.read_image`)."""
    return decode_image(read_image(path)).rgb


@DATASET_REGISTRY.register()
def ReferenceTwinDataset(opt):  # noqa: N802  (a dataset type name, as basicsr's registry names them)
    """``type: ReferenceTwinDataset`` (module docstring): :class:`TwinTrainingImages` in the train phase, else
    :class:`TwinValidationPairs`."""
    return (TwinTrainingImages if opt.get('phase', 'train') == 'train' else TwinValidationPairs)(opt)


class TwinTrainingImages(RealESRGANDataset):
    """basicsr's ``RealESRGANDataset`` on a folder (module docstring).

    Attributes:
        paths (list[str]): The HR images trained on (:func:`usable_hr_images`).
        skipped (list[str]): One line per HR image skipped, ``<path>: <problem>``.
    """

    def __init__(self, opt):
        opt = {**REAL_ESRGAN_KERNELS, **opt}
        # basicsr reads its list of images from opt['meta_info'] (one path per line); an empty list, then ours
        super().__init__({**opt, 'meta_info': os.devnull})
        self.paths, self.skipped = usable_hr_images(opt)

    def __getitem__(self, item):
        """The sample of ``item``: an index, or the ``(index, sample_seed)`` of a DeterministicSampler, whose seed
        decides the sample's crop, flip and kernels (the global random states are left as they were)."""
        index, seed = item if isinstance(item, tuple) else (item, None)
        if seed is None:
            return self.cropped(super().__getitem__(index))
        states = random.getstate(), np.random.get_state()
        random.seed(seed)
        np.random.seed(seed % 2**32)
        try:
            return self.cropped(super().__getitem__(index))
        finally:
            random.setstate(states[0])
            np.random.set_state(states[1])

    def cropped(self, sample):
        """``sample`` with its 400x400 ``gt`` (basicsr's fixed size) cut to a random ``crop_pad_size`` square."""
        size, gt = self.opt.get('crop_pad_size', 400), sample['gt']
        if size < gt.size(-1):
            top, left = random.randint(0, gt.size(-2) - size), random.randint(0, gt.size(-1) - size)
            sample['gt'] = gt[:, top:top + size, left:left + size].contiguous()
        return sample


class TwinValidationPairs(data.Dataset):
    """LR / HR pairs of the same names in ``dataroot_lq`` / ``dataroot_gt`` (module docstring).

    Attributes:
        lq_paths, hr_paths (list[str]): The pairs validated on (:func:`usable_validation_pairs`).
        skipped (list[str]): One line per pair skipped, naming its file(s) and problem(s).
    """

    def __init__(self, opt):
        self.name, self.scale = opt['name'], opt['scale']
        pairs, self.skipped = usable_validation_pairs(opt)
        self.lq_paths, self.hr_paths = [lq for lq, _ in pairs], [hr for _, hr in pairs]

    def __getitem__(self, index):
        lq, gt = read_rgb(self.lq_paths[index]), read_rgb(self.hr_paths[index])
        height, width = lq.shape[0] * self.scale, lq.shape[1] * self.scale
        return {'lq': _chw(lq), 'gt': _chw(gt[:height, :width]), 'lq_path': self.lq_paths[index],
                'gt_path': self.hr_paths[index]}

    def __len__(self):
        return len(self.lq_paths)


def _chw(rgb):
    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))
