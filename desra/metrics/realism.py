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

The verdict (:func:`realism_verdict`): ``softened`` when detail retention is below ``min_retention`` (0.8) or NIQE
rose by more than ``niqe_margin`` (0.5) over the GAN's; ``collapsed`` when, in addition, the softening reached the
MSE model: detail retention at most the MSE-SR's own (no more fine texture than the MSE model) or NIQE at least the
MSE-SR's (when the MSE-SR's is worse than the GAN's); ``kept`` otherwise; ``n/a`` when the figures are undefined.
A collapse is always a softening too: a result within the thresholds is ``kept`` even where the MSE model is about as
detailed or as natural as the GAN.

Over a run (:func:`summarize_realism`): mean NIQE of each model and mean detail retention over the images where
they are defined, the lowest detail retention, the count of each verdict, and a sentence that names the worst
verdict and on how many images it fell (``collapsed on 3 of 4 images, kept on 1``).

The thresholds are options, a block like basicsr's (``realism: {niqe_margin: 0.5, min_retention: 0.8}``;
:func:`realism_options`).
"""
import math
import warnings

import cv2
import numpy as np
from basicsr.metrics.niqe import calculate_niqe

__all__ = ['NIQE_BLOCK', 'VERDICTS', 'REALISM_DEFAULTS', 'REALISM_FIELDS', 'niqe_score', 'laplacian_detail',
           'realism_verdict', 'score_realism', 'realism_options', 'summarize_realism', 'format_figure']

#: NIQE's block size in pixels (basicsr's and MATLAB's default); at least two whole blocks are needed.
NIQE_BLOCK = 96
#: The verdicts of :func:`realism_verdict`, from best to worst.
VERDICTS = ('kept', 'softened', 'collapsed')
#: The verdict's thresholds and their defaults (the keys of a ``realism:`` option block).
REALISM_DEFAULTS = {'niqe_margin': 0.5, 'min_retention': 0.8}
#: The figures of :func:`score_realism`, in the order of a table's columns.
REALISM_FIELDS = ('niqe_gan', 'niqe_mse', 'niqe_finetuned', 'detail_gan', 'detail_mse', 'detail_finetuned',
                  'detail_retention', 'mse_detail_retention', 'realism')


def niqe_score(img_rgb255):
    """NIQE of an (H, W, 3) RGB 0..255 image (lower = more natural).

    Flat 96x96 blocks (no variation after normalisation) have undefined features, which basicsr leaves out.

    Returns:
        float: NaN when the image holds fewer than two 96x96 blocks, or when the features of its textured blocks
        give no covariance (e.g. a flat image; basicsr fails there with an SVD error).
    """
    height, width = img_rgb255.shape[:2]
    if (height // NIQE_BLOCK) * (width // NIQE_BLOCK) < 2:
        return math.nan
    bgr = np.ascontiguousarray(np.asarray(img_rgb255, np.float32)[..., ::-1])
    with warnings.catch_warnings(), np.errstate(invalid='ignore', divide='ignore'):
        warnings.simplefilter('ignore', RuntimeWarning)  # the NaN features of flat blocks, left out by basicsr
        try:
            score = float(calculate_niqe(bgr, crop_border=0, input_order='HWC', convert_to='y'))
        except np.linalg.LinAlgError:
            return math.nan
    return score if math.isfinite(score) else math.nan


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
    detail_softened = has_detail and detail_retention < min_retention
    niqe_softened = has_niqe and niqe_finetuned - niqe_gan > niqe_margin
    if detail_softened and math.isfinite(mse_detail_retention) and detail_retention <= mse_detail_retention:
        return 'collapsed'
    if niqe_softened and math.isfinite(niqe_mse) and niqe_mse > niqe_gan and niqe_finetuned >= niqe_mse:
        return 'collapsed'
    return 'softened' if detail_softened or niqe_softened else 'kept'


def score_realism(gan_rgb255, mse_rgb255, finetuned_rgb255, outside, niqe_margin=0.5, min_retention=0.8,
                  known_niqe=None):
    """The realism figures of one image's three results.

    Args:
        gan_rgb255, mse_rgb255, finetuned_rgb255 (np.ndarray): (H, W, 3) RGB 0..255 results of the original GAN,
            the MSE model and the fine-tuned GAN.
        outside (np.ndarray): bool (H, W), the pixels outside both artifact masks.
        niqe_margin, min_retention (float): The verdict's thresholds (:func:`realism_verdict`).
        known_niqe (dict[str, float] | None): NIQE already computed for some of the roles ``'gan'``, ``'mse'``,
            ``'finetuned'`` (e.g. the unchanging references during training validation); the others are computed.

    Returns:
        dict: ``niqe_gan``, ``niqe_mse``, ``niqe_finetuned``; ``detail_gan``, ``detail_mse``, ``detail_finetuned``
        (outside the masks); ``detail_retention`` (fine-tuned / GAN), ``mse_detail_retention`` (MSE / GAN) and
        ``realism`` (the verdict). The keys of :data:`REALISM_FIELDS`.
    """
    results = {'gan': gan_rgb255, 'mse': mse_rgb255, 'finetuned': finetuned_rgb255}
    known_niqe = known_niqe or {}
    niqe = {role: known_niqe[role] if role in known_niqe else niqe_score(img) for role, img in results.items()}
    detail = {role: laplacian_detail(img, outside) for role, img in results.items()}
    retention = _ratio(detail['finetuned'], detail['gan'])
    mse_retention = _ratio(detail['mse'], detail['gan'])
    return {**{f'niqe_{role}': value for role, value in niqe.items()},
            **{f'detail_{role}': value for role, value in detail.items()},
            'detail_retention': retention, 'mse_detail_retention': mse_retention,
            'realism': realism_verdict(niqe['gan'], niqe['mse'], niqe['finetuned'], retention, mse_retention,
                                       niqe_margin, min_retention)}


def realism_options(block, where='realism'):
    """The verdict's thresholds from an option block (``realism: {niqe_margin, min_retention}``), with defaults.

    Args:
        block (dict | None): The block; None or absent keys: :data:`REALISM_DEFAULTS`.
        where (str): The block's option path, for the messages (e.g. ``val:realism``).

    Returns:
        dict: ``niqe_margin`` and ``min_retention`` as floats (the keyword arguments of :func:`score_realism`).

    Raises:
        ValueError: An unknown key, or a value that is not a number >= 0.
    """
    block = block or {}
    unknown = sorted(set(block) - set(REALISM_DEFAULTS))
    if unknown:
        raise ValueError(f'option {where}: unknown key(s) {", ".join(unknown)} (known: {", ".join(REALISM_DEFAULTS)})')
    options = {}
    for key, default in REALISM_DEFAULTS.items():
        value = block.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise ValueError(f'option {where}:{key} must be a number >= 0, got {value!r}')
        options[key] = float(value)
    return options


def format_figure(value, digits=3):
    """A realism figure as text: ``n/a`` when undefined (None, NaN), else with ``digits`` decimals."""
    return 'n/a' if value is None or not math.isfinite(value) else f'{value:.{digits}f}'


def _finite(values):
    return [value for value in values if value is not None and math.isfinite(value)]


def summarize_realism(scores):
    """Run-level realism figures of per-image figures (dicts with the keys of :func:`score_realism`).

    Missing or None figures count as undefined (records of older runs, JSON ``null``).

    Returns:
        dict: ``mean_niqe_gan``, ``mean_niqe_mse``, ``mean_niqe_finetuned``, ``mean_detail_retention``,
        ``mean_mse_detail_retention`` (means over the images where each is defined; NaN when none),
        ``min_detail_retention`` (the least-kept image; NaN when none), ``realism_kept``, ``realism_softened``,
        ``realism_collapsed``, ``realism_na`` (image counts per verdict) and ``realism``: the worst verdict with
        its count and the others', e.g. ``collapsed on 3 of 4 images, kept on 1`` (``n/a`` when no image has one).
    """
    summary = {}
    for key in ('niqe_gan', 'niqe_mse', 'niqe_finetuned', 'detail_retention', 'mse_detail_retention'):
        values = _finite(score.get(key) for score in scores)
        summary[f'mean_{key}'] = float(np.mean(values)) if values else math.nan
    retention = _finite(score.get('detail_retention') for score in scores)
    summary['min_detail_retention'] = min(retention) if retention else math.nan
    verdicts = [score.get('realism') or 'n/a' for score in scores]
    counts = {verdict: verdicts.count(verdict) for verdict in VERDICTS}
    summary.update({f'realism_{verdict}': count for verdict, count in counts.items()},
                   realism_na=len(verdicts) - sum(counts.values()))
    present = [verdict for verdict in reversed(VERDICTS) if counts[verdict]]
    if present:
        worst, others = present[0], present[1:]
        summary['realism'] = ', '.join([f'{worst} on {counts[worst]} of {len(verdicts)} images']
                                       + [f'{verdict} on {counts[verdict]}' for verdict in others])
    else:
        summary['realism'] = 'n/a'
    return summary
