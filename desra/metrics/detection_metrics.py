"""How well predicted artifact masks match human-labelled ones: IoU, precision and recall, as in the DeSRA paper.

Masks are binary images of shape (H, W): ``bool``, or ``uint8``/``uint16`` where a pixel is foreground (an
artifact) when it is at least half the type's maximum (128 for 8-bit files). The reference scripts count only 255
as foreground in IoU and precision (they truncate ``mask / 255`` to integers) but any non-zero value in recall's
labelled parts; on clean 0/255 masks all three rules agree.

The paper's detector only scores pixels whose whole window fits in the image, so its masks lack a border of
``window_size // 2 = 5`` pixels on each side, and the labelled mask is cropped by that border before comparing.
DeSRA's own detector writes full-size masks whose border is left empty; both forms are accepted, see
:func:`crop_to_valid_region`.

Metrics (reference: ``metrics/calc_iou.py``, ``calc_precision.py`` and ``calc_recall.py`` of TencentARC/DeSRA):

* **IoU** of an image is ``|pred & label| / |pred | label|``; the reported IoU is its mean over images.
  When both masks are empty the prediction is exactly right and the IoU is defined as 1. (The reference script
  divides 0 by 0 there, which yields NaN and turns the whole mean into NaN; its dataset has no such image.)
* **precision**: a *part* is an 8-connected component of a mask. A detected part is *true* when at least
  ``overlap`` (default half) of its own area lies in the labelled mask. Precision is the number of true detected
  parts over the number of detected parts, both summed over all images (not averaged per image).
* **recall**: a labelled part is *found* when at least ``overlap`` of its area is covered by the predicted mask.
  Recall is found labelled parts over labelled parts, summed over all images.

Precision is undefined (NaN) when nothing was detected in any image, recall when nothing was labelled.
"""
import math
import os
from dataclasses import dataclass

import cv2
import numpy as np

from desra.io.images import read_image
from desra.io.names import index_images

#: ``window_size // 2`` of the DeSRA detector's 11x11 window: the border the paper crops from labelled masks.
DEFAULT_BORDER = 5
#: Share of a part's own area that must be overlapped for the part to count (precision and recall).
DEFAULT_OVERLAP = 0.5


class MaskShapeError(ValueError):
    """A predicted and a labelled mask cannot be aligned; the message names both and their shapes."""


@dataclass(frozen=True)
class MaskPairScore:
    """What one predicted mask scores against its labelled mask (after cropping to the valid region).

    Attributes:
        name (str): Which image this is (relative path or file name), for reports.
        iou (float): Intersection over union in [0, 1]; 1 when both masks are empty.
        detected_parts (int): 8-connected parts of the predicted mask.
        true_detected_parts (int): Detected parts overlapping the labelled mask by at least ``overlap``.
        labelled_parts (int): 8-connected parts of the labelled mask.
        found_labelled_parts (int): Labelled parts covered by the prediction by at least ``overlap``.
    """
    name: str
    iou: float
    detected_parts: int
    true_detected_parts: int
    labelled_parts: int
    found_labelled_parts: int


@dataclass(frozen=True)
class DetectionScores:
    """IoU, precision and recall over a set of images (see the module docstring for the definitions).

    Attributes:
        images (int): Number of scored mask pairs.
        iou (float): Mean per-image IoU in [0, 1]; NaN when there are no images.
        precision (float): Pooled true detected parts / detected parts, in [0, 1]; NaN when nothing was detected.
        recall (float): Pooled found labelled parts / labelled parts, in [0, 1]; NaN when nothing was labelled.
        detected_parts, true_detected_parts, labelled_parts, found_labelled_parts (int): The pooled counts.
    """
    images: int
    iou: float
    precision: float
    recall: float
    detected_parts: int
    true_detected_parts: int
    labelled_parts: int
    found_labelled_parts: int


def to_binary_mask(mask, name='mask'):
    """Return ``mask`` as a 2-D bool array (see the module docstring for what counts as foreground).

    Args:
        mask (np.ndarray): (H, W) bool, uint8 or uint16.
        name (str): Names the mask in error messages.

    Raises:
        ValueError: ``mask`` is not 2-D or not of one of those types.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f'{name}: a mask must be 2-D (H, W), got shape {mask.shape}')
    if mask.dtype == bool:
        return mask
    if mask.dtype in (np.uint8, np.uint16):
        return mask >= (np.iinfo(mask.dtype).max + 1) // 2
    raise ValueError(f'{name}: a mask must be bool, uint8 or uint16, got {mask.dtype}')


def load_mask(path):
    """Read a mask file as an (H, W) bool array; colour files are converted to gray first, alpha is dropped.

    Raises:
        desra.io.images.ImageReadError: The file is missing or not a readable image; the message names it.
    """
    img = read_image(path)
    if img.ndim == 3:
        img = cv2.cvtColor(img[..., :3], cv2.COLOR_BGR2GRAY)
    return to_binary_mask(img, name=os.fspath(path))


def crop_to_valid_region(pred, label, border=DEFAULT_BORDER, pred_name='prediction', label_name='label'):
    """Crop a predicted and a labelled mask to the region the detector scores.

    * Equal shapes (a full-size prediction, as DeSRA's detector writes): both are cropped by ``border`` on each side.
    * Prediction smaller by ``2 * border`` in height and width (a valid-size prediction, as the paper's script
      writes): only the labelled mask is cropped.

    Args:
        pred, label (np.ndarray): (H, W) masks of any dtype.
        border (int): Pixels dropped from each side, >= 0.
        pred_name, label_name (str): Name the masks (file paths) in error messages.

    Returns:
        tuple[np.ndarray, np.ndarray]: The two masks, of equal shape (H - 2 * border, W - 2 * border).

    Raises:
        MaskShapeError: The shapes fit neither case, or the border leaves nothing.
    """
    if border < 0:
        raise ValueError(f'border must be >= 0, got {border}')
    lh, lw = label.shape[:2]
    valid_shape = (lh - 2 * border, lw - 2 * border)
    if min(valid_shape) <= 0:
        raise MaskShapeError(f'{label_name}: mask of shape {label.shape} is too small for a {border}-pixel border')
    if pred.shape[:2] == label.shape[:2]:
        return pred[border:lh - border, border:lw - border], label[border:lh - border, border:lw - border]
    if pred.shape[:2] == valid_shape:
        return pred, label[border:lh - border, border:lw - border]
    raise MaskShapeError(
        f'{pred_name} (shape {pred.shape[:2]}) does not fit {label_name} (shape {label.shape[:2]}): a prediction '
        f'must have the labelled size or be smaller by 2 * border = {2 * border} pixels in height and width')


def mask_iou(pred, label):
    """Intersection over union of two equal-shape (H, W) bool masks, in [0, 1]; 1 when both are empty."""
    union = np.count_nonzero(pred | label)
    if union == 0:
        return 1.0
    return float(np.count_nonzero(pred & label) / union)


def count_overlapped_parts(parts_mask, other_mask, overlap=DEFAULT_OVERLAP):
    """Count the 8-connected parts of ``parts_mask`` and those at least ``overlap`` inside ``other_mask``.

    A part counts when ``(its pixels in other_mask) / (its pixels) >= overlap`` (equality counts), the reference
    scripts' test.

    Args:
        parts_mask, other_mask (np.ndarray): Equal-shape (H, W) bool masks.
        overlap (float): Required share of a part's own area, in [0, 1].

    Returns:
        tuple[int, int]: (number of parts, number of overlapped parts).
    """
    num_labels, labels, stats, _ = cv2.connectedComponentsWithStats(
        parts_mask.astype(np.uint8), connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    overlapped_pixels = np.bincount(labels[other_mask], minlength=num_labels)[1:]
    return num_labels - 1, int(np.count_nonzero(overlapped_pixels / areas >= overlap))


def score_mask_pair(pred, label, border=DEFAULT_BORDER, overlap=DEFAULT_OVERLAP, name='', pred_name='prediction',
                    label_name='label'):
    """Score one predicted mask against its labelled mask.

    Args:
        pred (np.ndarray): (H, W) predicted mask, full size or valid size (see :func:`crop_to_valid_region`).
        label (np.ndarray): (H, W) human-labelled mask, full size.
        border (int): Border cropped to the valid region, in pixels per side.
        overlap (float): Required overlap share for precision and recall, in [0, 1].
        name (str): Stored in the result, for reports.
        pred_name, label_name (str): Name the masks (file paths) in error messages.

    Returns:
        MaskPairScore

    Raises:
        MaskShapeError / ValueError: The masks cannot be aligned or are not binary masks.
    """
    pred = to_binary_mask(pred, pred_name)
    label = to_binary_mask(label, label_name)
    pred, label = crop_to_valid_region(pred, label, border, pred_name, label_name)
    detected, true_detected = count_overlapped_parts(pred, label, overlap)
    labelled, found = count_overlapped_parts(label, pred, overlap)
    return MaskPairScore(name, mask_iou(pred, label), detected, true_detected, labelled, found)


def summarize_scores(scores):
    """Combine per-image :class:`MaskPairScore` s into :class:`DetectionScores` (mean IoU, pooled counts)."""
    scores = list(scores)
    detected = sum(s.detected_parts for s in scores)
    true_detected = sum(s.true_detected_parts for s in scores)
    labelled = sum(s.labelled_parts for s in scores)
    found = sum(s.found_labelled_parts for s in scores)
    return DetectionScores(
        images=len(scores),
        iou=float(np.mean([s.iou for s in scores])) if scores else math.nan,
        precision=true_detected / detected if detected else math.nan,
        recall=found / labelled if labelled else math.nan,
        detected_parts=detected,
        true_detected_parts=true_detected,
        labelled_parts=labelled,
        found_labelled_parts=found)


@dataclass
class MaskAgreement:
    """How one detector's masks agree with another's over a set of images (:func:`mask_agreement`).

    Attributes:
        scores (DetectionScores): Mean per-image IoU (an image with both masks empty counts 1) and the part
            precision / recall, as against labelled masks.
        pixel_iou (float): Intersection over union of all the images' mask pixels together; NaN when both are empty
            everywhere.
        pixel_precision (float): Share of the compared masks' pixels inside the reference masks (NaN: none).
        pixel_recall (float): Share of the reference masks' pixels inside the compared masks (NaN: none).
        images_with_reference_parts (int): Images whose reference mask is not empty.
        pixels, reference_pixels (int): Mask pixels of the compared and of the reference masks, in the valid region.
    """
    scores: DetectionScores
    pixel_iou: float
    pixel_precision: float
    pixel_recall: float
    images_with_reference_parts: int
    pixels: int
    reference_pixels: int


def mask_agreement(pairs, border=DEFAULT_BORDER):
    """Agreement of masks with reference masks (another detector's, e.g. a twin's with the MSE parent's).

    The per-image IoU is dominated by the images where both masks are small or empty; the pooled pixel figures
    weigh every artifact pixel alike.

    Args:
        pairs (iterable of (str, np.ndarray, np.ndarray)): ``(name, mask, reference mask)``, (H, W) masks of one
            image (:func:`to_binary_mask` forms; full size or valid size, :func:`crop_to_valid_region`).
        border (int): Border cropped to the valid region, in pixels per side.

    Returns:
        MaskAgreement
    """
    scores, inter, union, pixels, reference_pixels, with_parts = [], 0, 0, 0, 0, 0
    for name, mask, reference in pairs:
        scores.append(score_mask_pair(mask, reference, border=border, name=name))
        mask, reference = crop_to_valid_region(to_binary_mask(mask), to_binary_mask(reference), border)
        inter += int(np.count_nonzero(mask & reference))
        union += int(np.count_nonzero(mask | reference))
        pixels += int(np.count_nonzero(mask))
        reference_pixels += int(np.count_nonzero(reference))
        with_parts += bool(reference.any())

    def ratio(num, den):
        return num / den if den else math.nan

    return MaskAgreement(summarize_scores(scores), ratio(inter, union), ratio(inter, pixels),
                         ratio(inter, reference_pixels), with_parts, pixels, reference_pixels)


def folder_mask_agreement(masks_dir, reference_dir, names=None):
    """:func:`mask_agreement` of the masks in ``masks_dir`` with those of the same name in ``reference_dir``.

    Args:
        masks_dir, reference_dir (str): Folders of mask images (``masks/`` of two detect runs), matched by name.
        names (list[str] | None): The images compared; None: every name in both folders.

    Raises:
        FileNotFoundError: A listed name is missing from a folder (the folder and name are given).
    """
    masks, references = index_images(masks_dir, 'mask'), index_images(reference_dir, 'reference mask')
    names = sorted(set(masks) & set(references)) if names is None else list(names)
    for name in names:
        for folder, index in ((masks_dir, masks), (reference_dir, references)):
            if name not in index:
                raise FileNotFoundError(f'{folder}: no mask of image {name}')
    return mask_agreement((name, load_mask(masks[name]), load_mask(references[name])) for name in names)


def format_score(value, digits=4):
    """Format a score for tables: ``digits`` decimals, or ``n/a`` when it is undefined (NaN or None)."""
    if value is None or math.isnan(value):
        return 'n/a'
    return f'{value:.{digits}f}'
