"""Split an artifact mask into its parts and score how bad each one is.

Severity of a part (shown in the reports, sorted worst first)::

    severity = mean over the part's pixels of (1 - clip(adjusted, 0, 1))  x  part area / image area

``adjusted`` is DeSRA's semantics-adjusted contrast map (low where the GAN-SR result's local texture departs from
the MSE-SR result's, i.e. where artifacts are likely), so the first factor (the *strength*, in [0, 1]) says how
clearly the part is an artifact and the second (the *share*, in [0, 1]) how much of the image it covers. The
severity of an image is the sum over its parts, i.e. the strength summed over all mask pixels divided by the image
area.
"""
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from desra.detection.contrast import embed_interior

#: Text of the severity definition, shown on the report pages.
SEVERITY_DEFINITION = (
    'Severity of an artifact part = mean(1 - adjusted) over the part\'s pixels x (part area / image area), where '
    '"adjusted" is the semantics-adjusted contrast map (clipped to [0, 1]; low = the GAN-SR texture departs from '
    'the MSE-SR one). The first factor (strength, 0..1) says how clearly the part is an artifact, the second '
    '(share, 0..1) how much of the image it covers. An image\'s severity is the sum over its parts. Parts and '
    'images are listed worst first.')


@dataclass
class ArtifactPart:
    """One 8-connected region of an artifact mask.

    Attributes:
        bbox (tuple[int, int, int, int]): x, y, width, height in pixels of the full-size image.
        area (int): Pixels in the part.
        share (float): ``area`` / image area, in [0, 1].
        strength (float): Mean of ``1 - clip(adjusted, 0, 1)`` over the part, in [0, 1].
        severity (float): ``strength * share``.
    """
    bbox: tuple
    area: int
    share: float
    strength: float
    severity: float

    def to_dict(self):
        """JSON-ready dict (the bbox as a list)."""
        record = asdict(self)
        record['bbox'] = list(self.bbox)
        return record


def strength_map(adjusted, shape):
    """``1 - clip(adjusted, 0, 1)`` at full image size.

    Args:
        adjusted (np.ndarray): float, (H - 2r, W - 2r): the adjusted contrast of the pixels at least ``r`` from the
            border (``r = window_size // 2``).
        shape (tuple[int, int]): (H, W) of the image.

    Returns:
        np.ndarray: float64, (H, W), in [0, 1]; 0 on the ``r``-pixel border, where no contrast is computed.
    """
    return embed_interior(1 - np.clip(np.asarray(adjusted, np.float64), 0, 1), shape, fill=0.0)


def measure_parts(mask, adjusted):
    """The parts of an artifact mask with their severity, worst first.

    Args:
        mask (np.ndarray): bool, (H, W), the final artifact mask.
        adjusted (np.ndarray): float, (H - 2r, W - 2r), the adjusted contrast map (see :func:`strength_map`).

    Returns:
        list[ArtifactPart]: Sorted by decreasing severity.
    """
    num, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    strength_sums = np.bincount(labels.ravel(), weights=strength_map(adjusted, mask.shape).ravel(), minlength=num)
    image_area = mask.size
    parts = []
    for label in range(1, num):
        x, y, w, h, area = (int(v) for v in stats[label])
        strength = float(strength_sums[label] / area)
        parts.append(ArtifactPart((x, y, w, h), area, area / image_area, strength, strength * area / image_area))
    return sorted(parts, key=lambda part: part.severity, reverse=True)


def crop_box(bbox, shape, margin=0.25, min_size=48):
    """A window around a part for side-by-side crops.

    Args:
        bbox (tuple[int, int, int, int]): x, y, width, height of the part.
        shape (tuple[int, int]): (H, W) of the image.
        margin (float): Context added on each side, as a share of the part's larger side (at least 8 pixels).
        min_size (int): Smallest side of the window in pixels (when the image is that large).

    Returns:
        tuple[int, int, int, int]: x0, y0, x1, y1 (exclusive), inside the image.
    """
    x, y, w, h = bbox
    pad = max(8, int(round(margin * max(w, h))))
    height, width = shape

    def span(start, length, limit):
        lo, hi = start - pad, start + length + pad
        grow = max(0, min(min_size, limit) - (hi - lo))
        lo, hi = lo - grow // 2, hi + grow - grow // 2
        shift = max(0, -lo) - max(0, hi - limit)
        return max(0, lo + shift), min(limit, hi + shift)

    x0, x1 = span(x, w, width)
    y0, y1 = span(y, h, height)
    return x0, y0, x1, y1
