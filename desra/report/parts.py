"""Split an artifact mask into its parts and score how bad each one is.

Severity of a part (shown in the reports, sorted worst first)::

    severity = mean over the part's pixels of (1 - clip(adjusted, 0, 1))  x  part area / image area

``adjusted`` is DeSRA's semantics-adjusted contrast map (low where the GAN-SR result's local texture departs from
the MSE-SR result's, i.e. where artifacts are likely), so the first factor (the *strength*, in [0, 1]) says how
clearly the part is an artifact and the second (the *share*, in [0, 1]) how much of the image it covers. The
severity of an image is the sum over its parts, i.e. the strength summed over all mask pixels divided by the image
area.

The crops of a part on the report pages show a square window around it (:func:`crop_box`): the part with some
context, or the strongest region of a part too large for the window.
"""
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from desra.detection.contrast import embed_interior

#: Text of the severity definition, shown on the report pages (every severity there links to it).
SEVERITY_DEFINITION = (
    'Severity of an artifact part, in % of the image = strength x share. The strength (0..1) is the mean of '
    '1 - adjusted over the part\'s pixels, where "adjusted" is the semantics-adjusted contrast map (clipped to '
    '[0, 1]; low = the GAN-SR texture departs from the MSE-SR one): how clearly the part is an artifact. The share is '
    'the part\'s area / the image\'s area: how much of the image it covers. So a part covering 2 % of the image with '
    'strength 0.5 has severity 1 %, as has a part covering 1 % with strength 1. An image\'s severity is the sum over '
    'its parts: its artifact area weighted by strength. Images and parts are listed worst first.')


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


#: Sides of the square crop window around a part (pixels): the smallest that holds the part with its margin.
CROP_SIDES = (64, 96, 128, 192)


def crop_box(bbox, shape, weights=None, margin=0.25, sides=CROP_SIDES):
    """A square window around a part, for crops shown side by side at 1:1 or enlarged (never letterboxed).

    Its side is the smallest of ``sides`` that holds the part's larger side plus ``margin`` of it on each side (at
    least 8 pixels), else the largest, and at most the image's shorter side. A part that fits in the window gets it
    centred on it (shifted inside the image). A part that does not (larger than the window, or as wide as the
    image) gets the window that holds the most of ``weights`` inside the part's box, ties broken by the distance to
    the part's centre: with ``weights`` = strength map x mask, the part's strongest region.

    Args:
        bbox (tuple[int, int, int, int]): x, y, width, height of the part.
        shape (tuple[int, int]): (H, W) of the image.
        weights (np.ndarray | None): float (H, W), >= 0; None: a part larger than the window gets it centred.
        margin (float): Context added on each side, as a share of the part's larger side.
        sides (tuple[int, ...]): The window sides to choose from, increasing (pixels).

    Returns:
        tuple[int, int, int, int]: x0, y0, x1, y1 (exclusive), inside the image, with x1 - x0 == y1 - y0.
    """
    x, y, w, h = bbox
    height, width = shape
    needed = max(w, h) + 2 * max(8, int(round(margin * max(w, h))))
    side = min(next((side for side in sides if side >= needed), sides[-1]), height, width)
    if (w > side or h > side) and weights is not None:
        x0, y0 = _strongest_window(weights, bbox, side)
    else:
        x0 = min(max(0, x + w // 2 - side // 2), width - side)
        y0 = min(max(0, y + h // 2 - side // 2), height - side)
    return int(x0), int(y0), int(x0 + side), int(y0 + side)


def _strongest_window(weights, bbox, side):
    """Top-left corner of the ``side`` x ``side`` window inside the image holding the most of ``weights`` within
    ``bbox``; among equal sums (to 1e-9 of the largest), the one whose centre is nearest the box's centre."""
    x, y, w, h = bbox
    inside = np.zeros(weights.shape, np.float64)
    inside[y:y + h, x:x + w] = weights[y:y + h, x:x + w]
    table = np.pad(inside.cumsum(axis=0).cumsum(axis=1), ((1, 0), (1, 0)))  # table[i, j] = sum of inside[:i, :j]
    sums = table[side:, side:] - table[:-side, side:] - table[side:, :-side] + table[:-side, :-side]
    top, left = np.mgrid[:sums.shape[0], :sums.shape[1]]
    distance = (left + side / 2 - (x + w / 2)) ** 2 + (top + side / 2 - (y + h / 2)) ** 2
    best = np.flatnonzero(sums.ravel() >= sums.max() - 1e-9 * max(1.0, abs(sums.max())))
    index = best[np.argmin(distance.ravel()[best])]
    return index % sums.shape[1], index // sums.shape[1]
