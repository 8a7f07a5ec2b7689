"""Recompute the per-class interval table behind the semantic weights (Fig. 10(b) of the paper).

For every ADE20K class, DeSRA looks at the distance ``D = 1 - c`` of the class's pixels (``c`` the contrast map of
Eq. 7 between MSE-SR and GAN-SR results) over ``NUM_BINS`` = 20 equal intervals of [0, 1] and records the index
``idx`` of the interval in which the 85th percentile falls: the smallest ``idx`` with at least 85% of the class's
pixels in intervals ``0..idx``. Interval ``k`` is ``[k/20, (k+1)/20)``, the last one closed. Pixels marked as
artifacts by human labels can be left out, so that the table describes the natural texture of each class.

Classes absent from the calibration images keep the value of a base table (the shipped one by default).
"""
import numpy as np

from desra.detection.contrast import contrast_map, crop_interior
from desra.detection.semantic import DEFAULT_INTERVAL_FILE, NUM_BINS, load_class_names, read_class_intervals


class DistanceHistogram:
    """Per-class histograms of ``D = 1 - c``, accumulated over images.

    Args:
        num_classes (int): Number of labels (150 for ADE20K).
        num_bins (int): Equal intervals of [0, 1].

    Attributes:
        counts (np.ndarray): int64, (num_classes, num_bins): pixels of each class in each interval.
    """

    def __init__(self, num_classes=150, num_bins=NUM_BINS):
        self.num_bins = num_bins
        self.counts = np.zeros((num_classes, num_bins), dtype=np.int64)

    def add(self, contrast, labels, exclude=None):
        """Count the pixels of one contrast map.

        Args:
            contrast (np.ndarray): float, (h, w): the contrast map ``c``.
            labels (np.ndarray): int, (h, w): the class of every pixel of ``contrast``.
            exclude (np.ndarray | None): bool, (h, w): pixels to leave out (labelled artifacts).

        Raises:
            ValueError: The shapes differ or a label is out of range.
        """
        num_classes = self.counts.shape[0]
        shapes = {np.shape(contrast), np.shape(labels)} | ({np.shape(exclude)} if exclude is not None else set())
        if len(shapes) != 1:
            raise ValueError(f'contrast, labels (and exclude) must have one shape, got {sorted(shapes)}')
        labels = np.asarray(labels)
        if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
            raise ValueError(f'labels must lie in [0, {num_classes - 1}], found [{labels.min()}, {labels.max()}]')
        bins = np.clip(((1.0 - np.asarray(contrast)) * self.num_bins).astype(np.int64), 0, self.num_bins - 1)
        keys = labels.astype(np.int64) * self.num_bins + bins
        if exclude is not None:
            keys = keys[~np.asarray(exclude, dtype=bool)]
        self.counts += np.bincount(keys.ravel(), minlength=self.counts.size).reshape(self.counts.shape)

    def interval_indices(self, percentile=85.0):
        """Per class, the smallest interval index ``idx`` with ``percentile`` % of its pixels in ``0..idx``.

        Returns:
            np.ndarray: int64, (num_classes,); -1 for classes without pixels.
        """
        totals = self.counts.sum(axis=1)
        reached = self.counts.cumsum(axis=1) * 100.0 >= percentile * totals[:, None]
        return np.where(totals > 0, reached.argmax(axis=1), -1)


def calibrate_class_intervals(samples, percentile=85.0, base_intervals=DEFAULT_INTERVAL_FILE, window_size=11,
                              sigma=1.5, c_factor=0.03, eps=1e-8):
    """Recompute the class interval table from MSE-SR / GAN-SR pairs and their segmentations.

    Args:
        samples (iterable): ``(mse_rgb255, gan_rgb255, labels, artifact_mask)`` tuples: float (H, W, 3) images
            on 0..255, int (H, W) ADE20K labels of the GAN-SR image, and a bool (H, W) mask of labelled
            artifacts to leave out (or None).
        percentile (float): Share of each class's pixels (%) that its interval must cover.
        base_intervals (str | Path): Table whose values classes without pixels keep.
        window_size, sigma, c_factor, eps: The contrast map's options (:func:`contrast_map`).

    Returns:
        tuple[dict[str, int], list[str]]: The table (class name -> interval index, every class) and the names of
        the classes that kept their base value.
    """
    class_names = load_class_names()
    histogram = DistanceHistogram(len(class_names))
    r = window_size // 2
    for mse, gan, labels, artifact_mask in samples:
        contrast = contrast_map(mse, gan, window_size, sigma, c_factor, eps)
        exclude = None if artifact_mask is None else crop_interior(artifact_mask, r)
        histogram.add(contrast, crop_interior(labels, r), exclude)
    intervals = read_class_intervals(base_intervals, class_names)
    unseen = []
    for name, idx in zip(class_names, histogram.interval_indices(percentile)):
        if idx < 0:
            unseen.append(name)
        else:
            intervals[name] = int(idx)
    return intervals, unseen
