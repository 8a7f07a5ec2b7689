"""Step 4 of DeSRA's detection: turn the thresholded contrast map into clean artifact regions.

The sequence is the paper's (and its release's): erode once with a 5x5 square, dilate three times with a 5x5 square,
fill holes with a 3x3 structuring element, then keep the 8-connected parts larger than 4000 pixels. Every size is
an argument. Masks are boolean (H, W) arrays; the image border counts as foreground for erosion and as background
for dilation (OpenCV's defaults), so regions touching the border are neither eaten nor grown by it.
"""
import cv2
import numpy as np
from scipy import ndimage


def _square(size, name):
    if not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f'{name} must be a positive integer (square side in pixels), got {size!r}')
    return np.ones((size, size), np.uint8)


def fill_holes(mask, kernel=3):
    """Fill the holes of a binary mask, as ``scipy.ndimage.binary_fill_holes(mask, structure=ones((k, k)))``.

    A hole is a set of background pixels that cannot reach the image border through background pixels, moving
    between pixels that a ``kernel`` x ``kernel`` square centred on one of them covers. For the usual 3x3 square
    (8-connectivity) the holes are found with OpenCV's connected components, several times faster than scipy's
    iterative propagation with the same result; other sizes use scipy.

    Args:
        mask (np.ndarray): bool or 0/1, shape (H, W).
        kernel (int): Side of the square structuring element.

    Returns:
        np.ndarray: bool, shape (H, W): ``mask`` with its holes set.
    """
    structure = _square(kernel, 'fill_holes_kernel')
    mask = np.asarray(mask, dtype=bool)
    if kernel != 3:
        # scipy corrupts memory when a side of the mask is shorter than the structure (seen with scipy 1.17.1):
        # a background frame as wide as the structure keeps it safe and changes no hole, since background that
        # touches the border stays connected to the outside through the frame.
        padded = ndimage.binary_fill_holes(np.pad(mask, kernel), structure=structure)
        return padded[kernel:-kernel, kernel:-kernel]
    num_labels, background = cv2.connectedComponents((~mask).view(np.uint8), connectivity=8)
    is_hole = np.ones(num_labels, dtype=bool)
    is_hole[0] = False  # label 0: the mask's own pixels
    is_hole[background[0]] = is_hole[background[-1]] = False  # background parts reaching the border
    is_hole[background[:, 0]] = is_hole[background[:, -1]] = False
    return mask | is_hole[background]


def remove_small_parts(mask, min_area):
    """Keep the 8-connected parts of ``mask`` whose area is larger than ``min_area`` pixels.

    Args:
        mask (np.ndarray): bool or 0/1, shape (H, W).
        min_area (int): Parts of ``min_area`` pixels or fewer are removed (the paper: 4000).

    Returns:
        tuple[np.ndarray, int]: The kept parts (bool, (H, W)) and how many there are.
    """
    _, labels, stats, _ = cv2.connectedComponentsWithStats(
        np.ascontiguousarray(mask, dtype=bool).view(np.uint8), connectivity=8)
    keep = stats[:, cv2.CC_STAT_AREA] > min_area
    keep[0] = False  # label 0 is the background
    return keep[labels], int(np.count_nonzero(keep))


def clean_mask(binary, erode_kernel=5, erode_iterations=1, dilate_kernel=5, dilate_iterations=3,
               fill_holes_kernel=3, min_area=4000, return_num_parts=False):
    """Erode, dilate, fill holes and drop small parts: thresholded contrast map -> artifact regions.

    Args:
        binary (np.ndarray): bool or 0/1, shape (H, W): pixels whose adjusted contrast is below the threshold.
        erode_kernel (int): Side of the square eroding element (pixels).
        erode_iterations (int): Number of erosions (0 skips them).
        dilate_kernel (int): Side of the square dilating element (pixels).
        dilate_iterations (int): Number of dilations (0 skips them).
        fill_holes_kernel (int): Side of the square structuring element of :func:`fill_holes`.
        min_area (int): Parts of ``min_area`` pixels or fewer are removed.
        return_num_parts (bool): Also return the number of kept parts.

    Returns:
        np.ndarray | tuple[np.ndarray, int]: bool mask, shape (H, W) (and the number of kept 8-connected parts).

    Raises:
        ValueError: ``binary`` is not a 2-D array, or a size is not a positive integer.
    """
    binary = np.asarray(binary)
    if binary.ndim != 2:
        raise ValueError(f'clean_mask expects a 2-D (H, W) mask, got shape {binary.shape}')
    mask = (binary != 0).view(np.uint8)
    if erode_iterations > 0:
        mask = cv2.erode(mask, _square(erode_kernel, 'erode_kernel'), iterations=erode_iterations)
    if dilate_iterations > 0:
        mask = cv2.dilate(mask, _square(dilate_kernel, 'dilate_kernel'), iterations=dilate_iterations)
    mask = fill_holes(mask.view(bool), fill_holes_kernel)
    kept, num_parts = remove_small_parts(mask, min_area)
    return (kept, num_parts) if return_num_parts else kept
