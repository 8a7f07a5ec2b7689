"""DeSRA's Stage 1: find the artifacts of a GAN-SR image by comparing it with the MSE-SR image of the same input.

:class:`ArtifactDetector` chains the four steps of the paper (Sec. 3.2), each in its own module:

1. segment the GAN-SR image into ADE20K classes (:mod:`.segmenter`);
2. contrast map ``c`` between MSE-SR and GAN-SR local variances, valid region only (:mod:`.contrast`);
3. semantic-aware adjustment ``clip(c * w_class, 0, 1)`` (:mod:`.semantic`);
4. threshold (``adjusted < threshold``), erode, dilate, fill holes, drop small parts (:mod:`.morphology`).

Options (the ``detector:`` mapping of a YAML file; every key optional, defaults are the paper's)::

    detector:
      window_size: 11        # Gaussian window side (odd)
      sigma: 1.5             # Gaussian window standard deviation (pixels)
      c_factor: 0.03         # C = (c_factor * 255)^2
      eps: 1.0e-8            # added to each variance under the square root
      threshold: 0.7         # artifact where the adjusted contrast is below
      erode_kernel: 5
      erode_iterations: 1
      dilate_kernel: 5
      dilate_iterations: 3
      fill_holes_kernel: 3
      min_area: 4000         # keep 8-connected parts larger than this (pixels)
      class_intervals: ~     # interval table of the class weights; ~ = the shipped DeSRA table
      segmenter: {type: segformer, model_path: nvidia/segformer-b5-finetuned-ade-640-640}   # or {type: none}
"""
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from desra.config.schema import check_options
from desra.detection.contrast import check_image_pair, contrast_map, crop_interior, embed_interior
from desra.detection.morphology import clean_mask
from desra.detection.segmenter import DEFAULT_SEGMENTER_OPT, build_segmenter
from desra.detection.semantic import load_class_weights, semantic_weight_map

DEFAULT_DETECTOR_OPT = {
    'window_size': 11,
    'sigma': 1.5,
    'c_factor': 0.03,
    'eps': 1e-8,
    'threshold': 0.7,
    'erode_kernel': 5,
    'erode_iterations': 1,
    'dilate_kernel': 5,
    'dilate_iterations': 3,
    'fill_holes_kernel': 3,
    'min_area': 4000,
    'class_intervals': None,
    'segmenter': DEFAULT_SEGMENTER_OPT,
}
_CONTRAST_KEYS = ('window_size', 'sigma', 'c_factor', 'eps')
#: The options of :func:`desra.detection.clean_mask` (shared with the baselines).
MORPHOLOGY_KEYS = ('erode_kernel', 'erode_iterations', 'dilate_kernel', 'dilate_iterations', 'fill_holes_kernel',
                   'min_area')


def _check_options(opt):
    """Raise ValueError (:class:`~desra.config.schema.OptionError`) for unknown keys or values out of range,
    naming each key; integral floats become ints."""
    check_options(opt, 'detector', 'detector options')


@dataclass
class DetectionResult:
    """Everything Stage 1 computes for one image pair; ``r = window_size // 2``, (H, W) the image size.

    Attributes:
        contrast (np.ndarray): float64, (H - 2r, W - 2r): the contrast map ``c`` (Eq. 7), in (0, 1].
        weights (np.ndarray): float64, (H - 2r, W - 2r): the class weight of every pixel (1 without segmenter).
        adjusted (np.ndarray): float64, (H - 2r, W - 2r): ``clip(contrast * weights, 0, 1)`` (Eq. 9).
        labels (np.ndarray | None): int32, (H, W): ADE20K labels of the GAN-SR image; None without segmenter.
        binary_valid (np.ndarray): bool, (H - 2r, W - 2r): the artifact mask after morphology and area filter.
        mask (np.ndarray): bool, (H, W): ``binary_valid`` placed in the full image, False on the r-pixel border.
        num_parts (int): Number of 8-connected artifact regions in ``mask``.
    """
    contrast: np.ndarray
    weights: np.ndarray
    adjusted: np.ndarray
    labels: Optional[np.ndarray]
    binary_valid: np.ndarray
    mask: np.ndarray
    num_parts: int


class ArtifactDetector:
    """Detect the artifacts of GAN-SR images (DeSRA Stage 1).

    The segmenter is loaded here, so missing weights fail before any image is processed.

    Args:
        detector_opt (dict): The ``detector:`` options (see the module docstring); missing keys take defaults.
        device (str | torch.device): Where the segmenter and, on a GPU, the contrast map run. On the CPU the
            contrast map uses OpenCV in float64; elsewhere float64 torch convolutions.

    Raises:
        ValueError: Unknown option keys (listed with the known ones) or values out of range.
        desra.detection.segmenter.SegmenterWeightsError: The configured segmenter has no weights here.
    """

    def __init__(self, detector_opt=None, device='cpu'):
        opt = dict(DEFAULT_DETECTOR_OPT, **(detector_opt or {}))
        _check_options(opt)
        self.opt = opt
        self.device = torch.device(device)
        self.class_weights = load_class_weights(opt['class_intervals'])
        self.segmenter = build_segmenter(opt['segmenter'], self.device)

    def detect(self, mse_rgb255, gan_rgb255):
        """Detect the artifacts of ``gan_rgb255`` against ``mse_rgb255``.

        Args:
            mse_rgb255 (np.ndarray): MSE-SR image, float (or uint8), (H, W, 3), RGB, 0..255.
            gan_rgb255 (np.ndarray): GAN-SR image of the same input and shape.

        Returns:
            DetectionResult

        Raises:
            ValueError: The shapes differ, are not (H, W, 3), or H or W does not exceed ``window_size``.
        """
        opt = self.opt
        window_size = opt['window_size']
        check_image_pair(mse_rgb255, gan_rgb255, window_size)
        if mse_rgb255.ndim != 3 or mse_rgb255.shape[2] != 3:
            raise ValueError(f'expected (H, W, 3) RGB images, got shape {mse_rgb255.shape}')
        height, width = mse_rgb255.shape[:2]

        labels = None if self.segmenter is None else self.segmenter(gan_rgb255)
        contrast = self._contrast(mse_rgb255, gan_rgb255)
        if labels is None:
            weights = np.ones_like(contrast)
        else:
            weights = semantic_weight_map(crop_interior(labels, window_size // 2), self.class_weights)
        adjusted = np.clip(contrast * weights, 0.0, 1.0)
        binary_valid, num_parts = clean_mask(adjusted < opt['threshold'], return_num_parts=True,
                                             **{key: opt[key] for key in MORPHOLOGY_KEYS})
        mask = embed_interior(binary_valid, (height, width), fill=False)
        return DetectionResult(contrast, weights, adjusted, labels, binary_valid, mask, num_parts)

    def _contrast(self, mse_rgb255, gan_rgb255):
        """The contrast map as float64 numpy, computed on the CPU with OpenCV or on the device with torch."""
        contrast_opt = {key: self.opt[key] for key in _CONTRAST_KEYS}
        if self.device.type == 'cpu':
            return contrast_map(mse_rgb255, gan_rgb255, **contrast_opt)
        mse, gan = (torch.from_numpy(np.ascontiguousarray(img)).to(self.device) for img in (mse_rgb255, gan_rgb255))
        return contrast_map(mse, gan, **contrast_opt).cpu().numpy()
