"""Figures of the report beyond the artifact parts: the area each threshold would flag, and artifact area per class.

* **Area vs threshold** (:func:`below_threshold_curve`): for thresholds 0.05, 0.10, ..., 0.95, the share of the
  image's pixels whose adjusted contrast is below the threshold, *before* morphology (erosion, dilation, hole filling
  and the area filter change it by little on large artifacts and drop small ones). The ``window_size // 2`` border,
  where no contrast is computed, counts as not below. It shows how the mask would grow or shrink with another
  ``detector: threshold``, to calibrate it on a new model.
* **Area per class** (:func:`class_figures`): for every ADE20K class the segmenter found in the image, its pixels
  and the artifact-mask pixels among them.
"""
import functools

import numpy as np

from desra.detection.semantic import load_class_names

#: Thresholds of the area-vs-threshold curve: 0.05, 0.10, ..., 0.95.
CURVE_THRESHOLDS = tuple(round(0.05 * step, 2) for step in range(1, 20))


def below_threshold_curve(adjusted, image_area, thresholds=CURVE_THRESHOLDS):
    """Share of an image's pixels whose adjusted contrast is below each threshold (before morphology).

    Args:
        adjusted (np.ndarray): float, (H - 2r, W - 2r), the adjusted contrast map of the image's interior.
        image_area (int): H x W, the pixels of the whole image.
        thresholds (tuple[float]): Increasing thresholds.

    Returns:
        list[float]: One share in [0, 1] per threshold, non-decreasing.
    """
    adjusted = np.asarray(adjusted)
    return [int(np.count_nonzero(adjusted < threshold)) / image_area for threshold in thresholds]


def pooled_curve(curves, areas):
    """The curve of a set of images: per threshold, flagged pixels summed over the images / their summed area.

    Args:
        curves (list[list[float]]): :func:`below_threshold_curve` of each image.
        areas (list[int]): Pixels of each image.

    Returns:
        list[float]: One share per threshold; empty when there is no image.
    """
    if not curves:
        return []
    return list(np.average(np.asarray(curves, np.float64), axis=0, weights=np.asarray(areas, np.float64)))


@functools.lru_cache(maxsize=1)
def _class_names():
    return tuple(load_class_names())


def class_name(index):
    """The ADE20K name of class ``index`` (``'class <index>'`` beyond the table)."""
    names = _class_names()
    return names[index] if 0 <= index < len(names) else f'class {index}'


def class_figures(labels, mask):
    """Pixels and artifact pixels of every class present in an image.

    Args:
        labels (np.ndarray): int, (H, W), ADE20K class indices (negative values: no class, not counted).
        mask (np.ndarray): bool, (H, W), the artifact mask.

    Returns:
        list[dict]: ``index``, ``name``, ``pixels``, ``artifact_pixels`` of each class present, most pixels first.
    """
    labels = np.asarray(labels).astype(np.int64, copy=False)
    known = labels >= 0
    pixels = np.bincount(labels[known])
    artifact_pixels = np.bincount(labels[known & mask], minlength=len(pixels))
    present = np.flatnonzero(pixels)
    figures = [{'index': int(index), 'name': class_name(int(index)), 'pixels': int(pixels[index]),
                'artifact_pixels': int(artifact_pixels[index])} for index in present]
    return sorted(figures, key=lambda figure: -figure['pixels'])


def total_class_figures(per_image):
    """Per class over a set of images: ``images`` (where present), ``pixels``, ``artifact_pixels``,
    ``images_with_artifacts`` (where it holds artifact pixels).

    Args:
        per_image (list[list[dict]]): :func:`class_figures` of each image.

    Returns:
        list[dict]: ``index``, ``name`` and the four sums of every class present, most artifact pixels first.
    """
    totals = {}
    for figures in per_image:
        for figure in figures:
            total = totals.setdefault(figure['index'], {'index': figure['index'], 'name': figure['name'],
                                                        'images': 0, 'images_with_artifacts': 0, 'pixels': 0,
                                                        'artifact_pixels': 0})
            total['images'] += 1
            total['images_with_artifacts'] += figure['artifact_pixels'] > 0
            total['pixels'] += figure['pixels']
            total['artifact_pixels'] += figure['artifact_pixels']
    return sorted(totals.values(), key=lambda total: (-total['artifact_pixels'], -total['pixels'], total['index']))
