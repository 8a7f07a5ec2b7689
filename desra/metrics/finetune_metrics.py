"""What fine-tuning changed, judged by DeSRA's detector on the original and the fine-tuned model's SR results.

Per image, ``B`` is the artifact mask of the original GAN model's result (*before*) and ``A`` that of the
fine-tuned model's result (*after*), both bool (H, W) from Stage 1 with the same settings:

* **artifact area** before / after: ``|B|`` and ``|A|`` in pixels and in % of the image (H x W); **parts**: the
  8-connected components of each mask;
* **removal rate** = ``|B \\ A| / |B|``: the share of the before-artifact pixels that are gone;
* **addition rate** = ``|A \\ B| / |B|``: after-artifact pixels outside the before-mask, relative to the
  before-artifact area. Both rates are undefined (NaN, shown ``n/a``) when ``B`` is empty; the pixels added to
  such an image still show in ``added_pixels`` and in the pooled totals;
* **PSNR outside** and **SSIM outside**: how much the rest of the image changed, between the original and the
  fine-tuned results on the pixels outside both masks (``~(A | B)``), 0..255 RGB. PSNR = ``10 log10(255^2 / MSE)``,
  MSE averaged over those pixels and the three channels (``inf`` when they are identical). SSIM = the mean over
  those pixels of :func:`ssim_map`. Both are NaN when no pixel is outside.
* **texture difference** before / after: the mean over ``B`` of ``D = 1 - c``, with ``c`` the contrast map (Eq. 7)
  of the original / the fine-tuned result against the MSE-SR (in [0, 1): 0 = the MSE-SR's texture); **texture
  reduction** = ``1 - D_after / D_before``: 0 = the texture inside the original's artifacts is unchanged, 1 = it is
  the MSE model's (negative: more departed than before). Unlike the removal rate it is not thresholded, eroded or
  area-filtered: a stripe pattern made fainter, but still there, reduces it only in part. NaN when ``B`` is empty
  or no contrast maps were given.

Totals (:func:`summarize_finetune`): pixel and part counts summed over images; *pooled* rates
``sum |B \\ A| / sum |B|`` and ``sum |A \\ B| / sum |B|`` (NaN when no image had artifacts before); the mean of the
per-image rates over images with artifacts before; mean PSNR over images where it is finite and mean SSIM over
images where it is defined; the pooled texture reduction ``1 - sum_B D_after / sum_B D_before`` over the images
with artifacts before, and the mean of the per-image reductions.
"""
import math
from dataclasses import asdict, dataclass

import cv2
import numpy as np
from skimage.metrics import structural_similarity

from desra.detection.contrast import crop_interior

__all__ = [
    'FinetuneImageScore', 'count_parts', 'removal_rate', 'addition_rate', 'psnr_outside', 'ssim_map', 'ssim_outside',
    'texture_difference', 'texture_reduction', 'TEXTURE_FIELDS', 'score_finetune', 'summarize_finetune'
]

#: The texture figures of a :class:`FinetuneImageScore`, in the order of a table's columns.
TEXTURE_FIELDS = ('texture_before', 'texture_after', 'texture_reduction')


def count_parts(mask):
    """Number of 8-connected parts of a bool (H, W) mask.

    For masks without a count: a detector's result has its own (:attr:`desra.detection.DetectionResult.num_parts`).
    """
    return cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)[0] - 1


def _share(numerator, denominator):
    return numerator / denominator if denominator else math.nan


def removal_rate(before, after):
    """``|before & ~after| / |before|`` of two bool masks; NaN when ``before`` is empty."""
    return _share(int(np.count_nonzero(before & ~after)), int(np.count_nonzero(before)))


def addition_rate(before, after):
    """``|after & ~before| / |before|`` of two bool masks; NaN when ``before`` is empty."""
    return _share(int(np.count_nonzero(after & ~before)), int(np.count_nonzero(before)))


def psnr_outside(img1, img2, outside):
    """PSNR in dB between two (H, W, 3) 0..255 images over the pixels where ``outside`` (bool (H, W)) is True.

    Returns:
        float: ``10 log10(255^2 / MSE)``, MSE over the selected pixels and all channels; ``inf`` when they are
        equal there, NaN when no pixel is selected.
    """
    if not outside.any():
        return math.nan
    diff = np.asarray(img1, np.float64)[outside] - np.asarray(img2, np.float64)[outside]
    mse = float(np.mean(diff ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0 ** 2 / mse)


def ssim_map(img1, img2):
    """Per-pixel SSIM of two (H, W, 3) RGB images on the 0..255 scale, averaged over the channels.

    scikit-image's SSIM map (``full=True``, ``gaussian_weights=True``, ``sigma=1.5``: an 11x11 Gaussian window,
    ``use_sample_covariance=False``, ``data_range=255``, ``channel_axis=2``).

    Returns:
        np.ndarray: float64, (H, W), in [-1, 1]; the outer 5 pixels are computed over a reflected image.

    Raises:
        ValueError: The shapes differ, or H or W is smaller than 11 (scikit-image's message).
    """
    _, full = structural_similarity(
        np.asarray(img1, np.float64), np.asarray(img2, np.float64), full=True, gaussian_weights=True, sigma=1.5,
        use_sample_covariance=False, data_range=255, channel_axis=2)
    return full.mean(axis=2)


def ssim_outside(img1, img2, outside):
    """Mean of :func:`ssim_map` of two (H, W, 3) 0..255 images over the pixels where ``outside`` is True.

    The map is computed on the whole images; NaN when no pixel is selected.
    """
    if not outside.any():
        return math.nan
    return float(ssim_map(img1, img2)[outside].mean())


def texture_difference(contrast, mask):
    """Mean of ``D = 1 - c`` over a mask.

    Args:
        contrast (np.ndarray): float (H - 2r, W - 2r): the valid-mode contrast map ``c`` (Eq. 7) of an SR result
            against the MSE-SR (:attr:`desra.detection.DetectionResult.contrast`), in (0, 1].
        mask (np.ndarray): bool (H, W); its r-pixel border, where ``c`` is undefined, is left out (the detector's
            masks are False there).

    Returns:
        float: In [0, 1); NaN when the mask is empty inside the border.
    """
    border = (mask.shape[0] - contrast.shape[0]) // 2
    inside = crop_interior(mask, border)
    if inside.shape != contrast.shape:
        raise ValueError(f'a contrast map of shape {contrast.shape} does not fit a mask of shape {mask.shape}')
    return float(np.mean(1.0 - contrast[inside])) if inside.any() else math.nan


def texture_reduction(difference_before, difference_after):
    """``1 - difference_after / difference_before`` of two :func:`texture_difference` values (NaN when the first is
    0 or NaN): 0 = unchanged, 1 = the MSE-SR's texture."""
    if not difference_before or math.isnan(difference_before):
        return math.nan
    return 1.0 - difference_after / difference_before


@dataclass
class FinetuneImageScore:
    """The fine-tuning figures of one image (see the module docstring).

    Attributes:
        image (str): The image's name.
        height, width (int): Size of the SR results in pixels.
        before_pixels, after_pixels (int): ``|B|``, ``|A|``.
        before_parts, after_parts (int): 8-connected parts of ``B`` and ``A``.
        removed_pixels, added_pixels (int): ``|B \\ A|``, ``|A \\ B|``.
        removal_rate, addition_rate (float): In [0, 1] (the addition rate may exceed 1); NaN when ``B`` is empty.
        outside_pixels (int): Pixels outside both masks.
        psnr_outside (float): dB; ``inf`` when unchanged, NaN when ``outside_pixels`` is 0.
        ssim_outside (float): NaN when ``outside_pixels`` is 0.
        texture_before, texture_after (float): Mean ``D = 1 - c`` over ``B`` of the original and the fine-tuned
            results (:func:`texture_difference`); NaN when ``B`` is empty or no contrast map was given.
        texture_reduction (float): ``1 - texture_after / texture_before`` (:func:`texture_reduction`).
    """
    image: str
    height: int
    width: int
    before_pixels: int
    after_pixels: int
    before_parts: int
    after_parts: int
    removed_pixels: int
    added_pixels: int
    removal_rate: float
    addition_rate: float
    outside_pixels: int
    psnr_outside: float
    ssim_outside: float
    texture_before: float = math.nan
    texture_after: float = math.nan
    texture_reduction: float = math.nan

    @property
    def before_percent(self):
        """``before_pixels`` as % of the image."""
        return 100.0 * self.before_pixels / (self.height * self.width)

    @property
    def after_percent(self):
        """``after_pixels`` as % of the image."""
        return 100.0 * self.after_pixels / (self.height * self.width)

    def to_dict(self):
        """All fields plus ``before_percent`` and ``after_percent``."""
        record = asdict(self)
        record['before_percent'] = self.before_percent
        record['after_percent'] = self.after_percent
        return record

    @classmethod
    def from_dict(cls, record):
        """Inverse of :meth:`to_dict` (the derived percentages are ignored; a record written before the texture
        figures existed reads them as NaN)."""
        return cls(**{field: record[field] for field in cls.__dataclass_fields__ if field in record})


def score_finetune(image, before, after, original_rgb255, finetuned_rgb255, before_parts=None, after_parts=None,
                   before_contrast=None, after_contrast=None):
    """Compare the original and fine-tuned results of one image.

    Args:
        image (str): The image's name.
        before, after (np.ndarray): bool (H, W) artifact masks of the original and fine-tuned results.
        original_rgb255, finetuned_rgb255 (np.ndarray): (H, W, 3) RGB 0..255 results of the two models.
        before_parts, after_parts (int | None): The number of 8-connected parts of ``before`` / ``after`` when
            known (the detector's ``num_parts``); None: counted here (:func:`count_parts`).
        before_contrast, after_contrast (np.ndarray | None): The valid-mode contrast maps ``c`` (Eq. 7) of the two
            results against the MSE-SR, for the texture figures (NaN without them).

    Returns:
        FinetuneImageScore

    Raises:
        ValueError: The masks and images do not all have the size (H, W).
    """
    shapes = {before.shape, after.shape, original_rgb255.shape[:2], finetuned_rgb255.shape[:2]}
    if len(shapes) != 1:
        raise ValueError(f'{image}: masks {before.shape}, {after.shape} and images {original_rgb255.shape}, '
                         f'{finetuned_rgb255.shape} must share one size')
    outside = ~(before | after)
    height, width = before.shape
    texture = {}
    if before_contrast is not None and after_contrast is not None:
        texture = {'texture_before': texture_difference(before_contrast, before),
                   'texture_after': texture_difference(after_contrast, before)}
        texture['texture_reduction'] = texture_reduction(texture['texture_before'], texture['texture_after'])
    return FinetuneImageScore(
        image=image, height=height, width=width, before_pixels=int(before.sum()), after_pixels=int(after.sum()),
        before_parts=count_parts(before) if before_parts is None else before_parts,
        after_parts=count_parts(after) if after_parts is None else after_parts,
        removed_pixels=int(np.count_nonzero(before & ~after)), added_pixels=int(np.count_nonzero(after & ~before)),
        removal_rate=removal_rate(before, after), addition_rate=addition_rate(before, after),
        outside_pixels=int(outside.sum()), psnr_outside=psnr_outside(original_rgb255, finetuned_rgb255, outside),
        ssim_outside=ssim_outside(original_rgb255, finetuned_rgb255, outside), **texture)


def _mean(values):
    values = list(values)
    return float(np.mean(values)) if values else math.nan


def summarize_finetune(scores):
    """Run-level figures of a list of :class:`FinetuneImageScore` (see the module docstring).

    Returns:
        dict: ``images``, ``image_pixels`` (their summed areas), ``before_percent`` / ``after_percent`` (artifact
        pixels as % of ``image_pixels``), ``images_with_artifacts_before`` / ``_after``, summed ``before_pixels``,
        ``after_pixels``, ``before_parts``, ``after_parts``, ``removed_pixels``, ``added_pixels``, pooled
        ``removal_rate`` and ``addition_rate``, ``mean_removal_rate`` and ``mean_addition_rate`` (per image, over
        images with artifacts before), ``mean_psnr_outside`` (finite values), ``mean_ssim_outside``, the pooled
        ``texture_reduction`` (``1 - sum |B| D_after / sum |B| D_before``) and ``mean_texture_reduction`` (per
        image), over images with artifacts before and texture figures (NaN when there are none).
    """
    total = {key: sum(getattr(score, key) for score in scores)
             for key in ('before_pixels', 'after_pixels', 'before_parts', 'after_parts', 'removed_pixels',
                         'added_pixels')}
    with_before = [score for score in scores if score.before_pixels]
    image_pixels = sum(score.height * score.width for score in scores)
    textured = [score for score in with_before if not math.isnan(score.texture_reduction)]
    texture_sums = [sum(score.before_pixels * getattr(score, key) for score in textured)
                    for key in ('texture_before', 'texture_after')]
    return {
        'images': len(scores),
        'image_pixels': image_pixels,
        'before_percent': 100.0 * _share(total['before_pixels'], image_pixels),
        'after_percent': 100.0 * _share(total['after_pixels'], image_pixels),
        'images_with_artifacts_before': len(with_before),
        'images_with_artifacts_after': sum(1 for score in scores if score.after_pixels),
        **total,
        'removal_rate': _share(total['removed_pixels'], total['before_pixels']),
        'addition_rate': _share(total['added_pixels'], total['before_pixels']),
        'mean_removal_rate': _mean(score.removal_rate for score in with_before),
        'mean_addition_rate': _mean(score.addition_rate for score in with_before),
        'mean_psnr_outside': _mean(score.psnr_outside for score in scores if math.isfinite(score.psnr_outside)),
        'mean_ssim_outside': _mean(score.ssim_outside for score in scores if not math.isnan(score.ssim_outside)),
        'texture_reduction': texture_reduction(*texture_sums) if textured else math.nan,
        'mean_texture_reduction': _mean(score.texture_reduction for score in textured),
    }
