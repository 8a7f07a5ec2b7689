"""Where to crop an LR / HR / mask triple: windows on the LR pixel grid, placed uniformly or on artifact parts.

A window is chosen in LR pixels; its HR window is exactly ``scale`` times it (HR box = scale * LR box), so an LR crop,
its HR crop and the HR mask crop show the same scene whatever the placement. An *artifact part* is an 8-connected
component of the mask.
"""
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class LQWindow:
    """A crop window in LR pixels: rows ``top .. top + height - 1``, columns ``left .. left + width - 1``."""
    top: int
    left: int
    height: int
    width: int

    def crop(self, img, scale=1):
        """Crop ``img`` (H, W[, C]) to this window scaled by ``scale`` (1 for the LR image, the SR scale for HR)."""
        rows = slice(self.top * scale, (self.top + self.height) * scale)
        cols = slice(self.left * scale, (self.left + self.width) * scale)
        return img[rows, cols]


def window_start(center, lq_length, lq_size, scale):
    """First LR pixel of a window of ``lq_size`` LR pixels whose HR window holds HR pixel ``center``.

    The HR window is centred on ``center`` as nearly as the LR grid allows (start rounded down) and then clamped into
    the image. ``center`` lies inside the HR window whenever ``lq_size >= 2``.

    Args:
        center (int): HR pixel index along the axis.
        lq_length (int): Image length along the axis, LR pixels.
        lq_size (int): Window length, LR pixels; at most ``lq_length``.
        scale (int): SR scale.

    Returns:
        int: LR index in ``[0, lq_length - lq_size]``.
    """
    start = (center - lq_size * scale // 2) // scale
    return int(min(max(start, 0), lq_length - lq_size))


def window_around(center_yx, lq_shape, lq_size, scale):
    """The :class:`LQWindow` of ``lq_size`` x ``lq_size`` LR pixels (cut to the image) around HR pixel ``center_yx``."""
    height, width = min(lq_size, lq_shape[0]), min(lq_size, lq_shape[1])
    return LQWindow(window_start(center_yx[0], lq_shape[0], height, scale),
                    window_start(center_yx[1], lq_shape[1], width, scale), height, width)


def artifact_windows(mask, lq_shape, lq_size, scale, max_windows):
    """Fixed crop windows covering the largest artifact parts, for building a dataset of sub-images.

    Parts are taken by decreasing area (ties: the bounding box starting higher, then further left); each gets a
    window centred on its bounding box unless that box already lies inside a chosen window. A part larger than the
    window gets one window on its centre. A mask with no artifact gets one window at the image centre.

    Args:
        mask (np.ndarray): bool, (H, W) with (H, W) = scale * ``lq_shape``.
        lq_shape (tuple[int, int]): (h, w) of the LR image.
        lq_size (int): Window side, LR pixels; an image smaller than that along an axis is kept whole along it.
        scale (int): SR scale.
        max_windows (int): At most this many windows.

    Returns:
        list[LQWindow]: At least one window.
    """
    num_labels, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    parts = sorted(range(1, num_labels), key=lambda label: (-stats[label, cv2.CC_STAT_AREA],
                                                            stats[label, cv2.CC_STAT_TOP],
                                                            stats[label, cv2.CC_STAT_LEFT]))
    windows = []
    for label in parts:
        if len(windows) == max_windows:
            break
        left, top, width, height = (int(v) for v in stats[label, :4])
        if any(_holds_box(window, scale, top, left, height, width) for window in windows):
            continue
        windows.append(window_around((top + height // 2, left + width // 2), lq_shape, lq_size, scale))
    return windows or [window_around((mask.shape[0] // 2, mask.shape[1] // 2), lq_shape, lq_size, scale)]


def _holds_box(window, scale, top, left, height, width):
    """Whether the HR window of ``window`` contains the HR box (top, left, height, width)."""
    return (window.top * scale <= top and top + height <= (window.top + window.height) * scale
            and window.left * scale <= left and left + width <= (window.left + window.width) * scale)


@dataclass(frozen=True, eq=False)
class ArtifactParts:
    """The pixels of the artifact parts of a mask, grouped by part: what :func:`random_window` draws from.

    Made once per mask (:meth:`from_mask`) and kept, so that the connected components are not labelled again for
    every crop. Holds 4 bytes per artifact pixel.

    Attributes:
        pixels (np.ndarray): int32, (N,): the raster indices ``row * width + col`` of the mask's N artifact pixels,
            part after part in OpenCV's label order (by first pixel in raster order), in raster order within a part.
        bounds (np.ndarray): int64, (P + 1,): part ``p`` (``0 <= p < P``) is ``pixels[bounds[p]:bounds[p + 1]]``.
        width (int): W of the mask.
    """
    pixels: np.ndarray
    bounds: np.ndarray
    width: int

    @classmethod
    def from_mask(cls, mask):
        """The parts of ``mask`` (bool, (H, W)); no parts when it is empty."""
        num_labels, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
        labels = labels.ravel()
        pixels = np.flatnonzero(labels)
        pixel_labels = labels[pixels]
        pixels = pixels[np.argsort(pixel_labels, kind='stable')].astype(np.int32)
        areas = np.bincount(pixel_labels, minlength=num_labels)[1:]
        return cls(pixels, np.concatenate([[0], np.cumsum(areas)]), mask.shape[1])

    def __len__(self):
        """The number of parts, P."""
        return len(self.bounds) - 1

    def area(self, part):
        """The number of pixels of part ``part`` (``0 <= part < P``)."""
        return int(self.bounds[part + 1] - self.bounds[part])

    def pixel(self, part, index):
        """The (row, col) of pixel ``index`` (``0 <= index < area(part)``, raster order) of part ``part``."""
        return divmod(int(self.pixels[self.bounds[part] + index]), self.width)


def random_window(rng, parts, lq_shape, lq_size, scale, artifact_crop_prob):
    """A random training crop window, centred on an artifact with probability ``artifact_crop_prob``.

    Artifact-centred: pick an artifact part uniformly, then one of its pixels uniformly, and place the window around
    that pixel (:func:`window_around`), so the crop contains it. Otherwise, or when the mask has no part, the window
    is uniform over the LR grid. Draws from ``rng`` in a fixed order, so the same generator state gives the same
    window.

    Args:
        rng (np.random.Generator): The sample's generator.
        parts (ArtifactParts): The parts of the HR mask, (H, W) = scale * ``lq_shape``.
        lq_shape (tuple[int, int]): (h, w) of the LR image, each at least ``lq_size``.
        lq_size (int): Window side, LR pixels.
        scale (int): SR scale.
        artifact_crop_prob (float): Probability of an artifact-centred window, in [0, 1].

    Returns:
        LQWindow: ``lq_size`` x ``lq_size``.
    """
    if rng.random() < artifact_crop_prob and len(parts):
        part = int(rng.integers(len(parts)))
        return window_around(parts.pixel(part, int(rng.integers(parts.area(part)))), lq_shape, lq_size, scale)
    return LQWindow(int(rng.integers(lq_shape[0] - lq_size + 1)), int(rng.integers(lq_shape[1] - lq_size + 1)),
                    lq_size, lq_size)
