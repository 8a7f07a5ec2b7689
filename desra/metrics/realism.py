"""Is a fine-tuned GAN-SR model still the same realistic GAN? No-reference realism figures and a collapse verdict.

A removal rate alone can be earned by a generator that collapsed into a blurry one: the detector compares the
GAN-SR result with the MSE-SR result, so a result as smooth as the MSE-SR has no "artifacts" left. These figures
say whether the fine-tuned result kept the GAN's texture. All images are (H, W, 3) RGB on the 0..255 scale.

* **NIQE** (:func:`niqe_score`): basicsr's ``calculate_niqe`` (the MATLAB-equivalent Natural Image Quality
  Evaluator, with its pristine-model parameters shipped in basicsr, so offline), on the Y channel, ``crop_border=0``,
  96x96 blocks. Lower = more natural; MSE-SR results typically score higher (worse) than GAN-SR results. It needs
  at least two whole 96x96 blocks (e.g. 192x96 px): below that the covariance is undefined and the score is NaN.
* **Detail** (:func:`laplacian_detail`): the mean absolute 4-neighbour Laplacian (``[[0,1,0],[1,-4,1],[0,1,0]]``,
  reflected border) of the grey image (ITU-R BT.601 luma, 0..255), over a region: the strength of fine texture,
  in grey levels per pixel. Evaluated outside the artifact masks, where fine-tuning should change nothing.
* **Detail retention** = detail(fine-tuned) / detail(original GAN) over the same pixels: 1 = as much fine texture as
  the original, below the MSE-SR's own ratio = smoother than the MSE model.

The verdict (:func:`realism_verdict`): ``collapsed`` when the fine-tuned result has less detail than the MSE-SR
result or a NIQE at least the MSE-SR's (when the MSE-SR's is worse than the GAN's); ``softened`` when detail
retention is below ``min_retention`` (0.8) or NIQE rose by more than ``niqe_margin`` (0.5) over the GAN's;
``kept`` otherwise; ``n/a`` when the figures are undefined.
"""
import math

import cv2
import numpy as np
from basicsr.metrics.niqe import calculate_niqe

__all__ = ['NIQE_BLOCK', 'niqe_score', 'laplacian_detail', 'realism_verdict', 'score_realism', 'VERDICTS']

#: NIQE's block size in pixels (basicsr's and MATLAB's default); at least two whole blocks are needed.
NIQE_BLOCK = 96
#: The verdicts of :func:`realism_verdict`, from best to worst.
VERDICTS = ('kept', 'softened', 'collapsed')


def niqe_score(img_rgb255):
    """NIQE of an (H, W, 3) RGB 0..255 image (lower = more natural); NaN when it holds fewer than two 96x96 blocks.

    Returns:
        float
    """
    height, width = img_rgb255.shape[:2]
    if (height // NIQE_BLOCK) * (width // NIQE_BLOCK) < 2:
        return math.nan
    bgr = np.ascontiguousarray(np.asarray(img_rgb255, np.float32)[..., ::-1])
    return float(calculate_niqe(bgr, crop_border=0, input_order='HWC', convert_to='y'))


def laplacian_detail(img_rgb255, region=None):
    """Mean absolute 4-neighbour Laplacian of the grey image over ``region``.

    Args:
        img_rgb255 (np.ndarray): (H, W, 3) RGB, 0..255 (any numeric dtype).
        region (np.ndarray | None): bool (H, W); None = every pixel.

    Returns:
        float: Grey levels per pixel, >= 0; NaN when the region is empty.
    """
    grey = cv2.cvtColor(np.asarray(img_rgb255, np.float32), cv2.COLOR_RGB2GRAY).astype(np.float64)
    laplacian = np.abs(cv2.Laplacian(grey, cv2.CV_64F, ksize=1, borderType=cv2.BORDER_REFLECT_101))
    if region is None:
        return float(laplacian.mean())
    return float(laplacian[region].mean()) if region.any() else math.nan


def _ratio(numerator, denominator):
    return numerator / denominator if denominator > 0 and math.isfinite(numerator) else math.nan


def realism_verdict(niqe_gan, niqe_mse, niqe_finetuned, detail_retention, mse_detail_retention, niqe_margin=0.5,
                    min_retention=0.8):
    """Whether the fine-tuned result is still GAN-like (module docstring): ``kept``, ``softened``, ``collapsed``.

    Args:
        niqe_gan, niqe_mse, niqe_finetuned (float): NIQE of the three results (NaN = undefined).
        detail_retention (float): detail(fine-tuned) / detail(GAN) outside the masks.
        mse_detail_retention (float): detail(MSE-SR) / detail(GAN) over the same pixels.
        niqe_margin (float): Allowed NIQE rise over the GAN's before ``softened``.
        min_retention (float): Detail retention under which the result is ``softened``.

    Returns:
        str: One of :data:`VERDICTS`, or ``n/a`` when neither detail nor NIQE is defined.
    """
    has_detail = math.isfinite(detail_retention)
    has_niqe = math.isfinite(niqe_gan) and math.isfinite(niqe_finetuned)
    if not has_detail and not has_niqe:
        return 'n/a'
    if has_detail and math.isfinite(mse_detail_retention) and detail_retention < mse_detail_retention:
        return 'collapsed'
    if has_niqe and math.isfinite(niqe_mse) and niqe_mse > niqe_gan and niqe_finetuned >= niqe_mse:
        return 'collapsed'
    if (has_detail and detail_retention < min_retention) or (has_niqe and niqe_finetuned - niqe_gan > niqe_margin):
        return 'softened'
    return 'kept'


def score_realism(gan_rgb255, mse_rgb255, finetuned_rgb255, outside, niqe_margin=0.5, min_retention=0.8):
    """The realism figures of one image's three results.

    Args:
        gan_rgb255, mse_rgb255, finetuned_rgb255 (np.ndarray): (H, W, 3) RGB 0..255 results of the original GAN,
            the MSE model and the fine-tuned GAN.
        outside (np.ndarray): bool (H, W), the pixels outside both artifact masks.
        niqe_margin, min_retention (float): The verdict's thresholds (:func:`realism_verdict`).

    Returns:
        dict: ``niqe_gan``, ``niqe_mse``, ``niqe_finetuned``; ``detail_gan``, ``detail_mse``, ``detail_finetuned``
        (outside the masks); ``detail_retention`` (fine-tuned / GAN), ``mse_detail_retention`` (MSE / GAN) and
        ``realism`` (the verdict).
    """
    results = {'gan': gan_rgb255, 'mse': mse_rgb255, 'finetuned': finetuned_rgb255}
    niqe = {role: niqe_score(img) for role, img in results.items()}
    detail = {role: laplacian_detail(img, outside) for role, img in results.items()}
    retention = _ratio(detail['finetuned'], detail['gan'])
    mse_retention = _ratio(detail['mse'], detail['gan'])
    return {**{f'niqe_{role}': value for role, value in niqe.items()},
            **{f'detail_{role}': value for role, value in detail.items()},
            'detail_retention': retention, 'mse_detail_retention': mse_retention,
            'realism': realism_verdict(niqe['gan'], niqe['mse'], niqe['finetuned'], retention, mse_retention,
                                       niqe_margin, min_retention)}
