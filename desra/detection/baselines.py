"""Two simple artifact detectors the DeSRA detector is compared with: an LDL-style map and a plain SSIM map.

Both compare an MSE-SR and a GAN-SR result of the same low-resolution image, threshold a per-pixel map, apply
DeSRA's morphology and small-part removal (:func:`desra.detection.clean_mask`), and return a full-size (H, W) bool
mask whose ``border``-pixel frame is False, the convention of :class:`desra.detection.ArtifactDetector`.

* **LDL** (Liang et al., CVPR 2022, ``get_local_weights`` in csjliang/LDL ``basicsr/losses/LDL_loss.py``, also
  ``basicsr.losses.loss_util``; computed here with box filters, which needs no ``k * k`` copies of the image) weighs
  each pixel by the local variance of the residual ``sum_c |GT - SR|`` over a 7x7 window (unbiased variance,
  reflect padding, images on the [0, 1] scale). Real-world inputs have no ground truth, so here the MSE-SR result
  stands in for it. LDL also multiplies by a per-training-patch factor ``var(residual) ** (1/5)`` and zeroes pixels
  where an EMA model is worse; neither applies at inference: the factor is one constant per image, which would only
  make a fixed threshold mean something different on every image, and there is no EMA model.
* **SSIM**: the structural-similarity map of the two results (:func:`desra.metrics.ssim_map`: Gaussian 11x11
  window, sigma 1.5, population covariance, data range 255), averaged over R, G and B; low similarity is flagged.

The default thresholds are not tuned on the DeSRA dataset (its labels would then leak into the baselines). They
were set on four demo images (``datasets/demo/lr``: grass, gravel, rocket, coins; RealESRGAN_x4plus against the
demo MSE model) so that each baseline flags pixels at the same order as the DeSRA detector there (before cleanup:
DeSRA without segmenter 1-6% of an image, SSIM below 0.5 3-11%, LDL above 0.02 2-19%).
:data:`LDL_VARIANCE_THRESHOLD` = 0.02 is a local standard deviation of 0.14 in the channel-summed residual, about
12 gray levels per channel (0.005 flagged 30-70% of the grass and gravel textures); :data:`SSIM_THRESHOLD` = 0.5.
"""
import cv2
import numpy as np

from desra.detection.contrast import check_image_pair, crop_interior, embed_interior
from desra.detection.morphology import clean_mask
from desra.metrics.detection_metrics import DEFAULT_BORDER
from desra.metrics.finetune_metrics import ssim_map

#: LDL's window for the residual's local variance, in pixels.
LDL_WINDOW_SIZE = 7
#: Local variance of the channel-summed [0, 1]-scale residual above which the LDL baseline flags a pixel.
LDL_VARIANCE_THRESHOLD = 0.02
#: SSIM below which the SSIM baseline flags a pixel.
SSIM_THRESHOLD = 0.5
#: Side of skimage's Gaussian SSIM window for sigma 1.5 (``2 * int(3.5 * 1.5 + 0.5) + 1``).
SSIM_WINDOW_SIZE = 11


def _check_pair(mse_rgb255, gan_rgb255, window_size):
    """Raise ValueError unless both images are (H, W, 3) of one shape, larger than the window (both shapes named)."""
    check_image_pair(mse_rgb255, gan_rgb255, window_size)
    if mse_rgb255.ndim != 3 or mse_rgb255.shape[2] != 3:
        raise ValueError(f'expected (H, W, 3) RGB images, got shape {mse_rgb255.shape}')


def ldl_variance_map(mse_rgb255, gan_rgb255, window_size=LDL_WINDOW_SIZE):
    """LDL's pixel-level weight with the MSE-SR result in place of the ground truth.

    Args:
        mse_rgb255, gan_rgb255 (np.ndarray): (H, W, 3) RGB images on the 0..255 scale.
        window_size (int): Odd side of the square window.

    Returns:
        np.ndarray: float64 (H, W), >= 0: the unbiased variance of ``sum_c |GAN - MSE| / 255`` over the window
        centred on each pixel, the image extended by reflection (without repeating the edge) at its borders.
    """
    _check_pair(mse_rgb255, gan_rgb255, window_size)
    residual = np.abs(np.asarray(gan_rgb255, np.float64) - np.asarray(mse_rgb255, np.float64)).sum(axis=2) / 255.0
    window = (window_size, window_size)
    mean = cv2.boxFilter(residual, -1, window, borderType=cv2.BORDER_REFLECT_101)
    mean_sq = cv2.boxFilter(residual * residual, -1, window, borderType=cv2.BORDER_REFLECT_101)
    n = window_size * window_size
    return np.maximum(mean_sq - mean * mean, 0.0) * (n / (n - 1))


def flagged_to_mask(flagged, border=DEFAULT_BORDER, cleanup=None):
    """Clean a raw (H, W) bool map of flagged pixels into a full-size artifact mask.

    The ``border`` frame is dropped, the inner region is cleaned with :func:`desra.detection.clean_mask`
    (``cleanup``: its keyword arguments, e.g. ``{key: detector_opt[key] for key in MORPHOLOGY_KEYS}`` with
    ``desra.detection.detector.MORPHOLOGY_KEYS``; None for its defaults) and the frame is put back as False, as the
    detector does.
    """
    return embed_interior(clean_mask(crop_interior(flagged, border), **(cleanup or {})), flagged.shape, fill=False)


def ldl_artifact_mask(mse_rgb255, gan_rgb255, threshold=LDL_VARIANCE_THRESHOLD, window_size=LDL_WINDOW_SIZE,
                      border=DEFAULT_BORDER, cleanup=None):
    """LDL baseline: pixels where :func:`ldl_variance_map` exceeds ``threshold``, cleaned.

    Returns:
        np.ndarray: (H, W) bool full-size mask, ``border`` frame False.
    """
    return flagged_to_mask(ldl_variance_map(mse_rgb255, gan_rgb255, window_size) > threshold, border, cleanup)


def ssim_artifact_mask(mse_rgb255, gan_rgb255, threshold=SSIM_THRESHOLD, border=DEFAULT_BORDER, cleanup=None):
    """SSIM baseline: pixels where :func:`desra.metrics.ssim_map` is below ``threshold``, cleaned.

    Args:
        mse_rgb255, gan_rgb255 (np.ndarray): (H, W, 3) RGB images on the 0..255 scale, H and W larger than 11.

    Returns:
        np.ndarray: (H, W) bool full-size mask, ``border`` frame False.

    Raises:
        ValueError: The images are not (H, W, 3) of one shape larger than the SSIM window (both shapes named).
    """
    _check_pair(mse_rgb255, gan_rgb255, SSIM_WINDOW_SIZE)
    return flagged_to_mask(ssim_map(mse_rgb255, gan_rgb255) < threshold, border, cleanup)
