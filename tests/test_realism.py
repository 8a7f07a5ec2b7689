"""Realism figures of fine-tuned results: NIQE, Laplacian detail, detail retention and the collapse verdict."""
import math
import os

import cv2
import numpy as np
import pytest
import yaml
from basicsr.metrics.niqe import calculate_niqe
from skimage import data

from desra.metrics.realism import (REALISM_DEFAULTS, laplacian_detail, niqe_score, realism_options, realism_verdict,
                                   score_realism, summarize_realism)
from tests.conftest import REPO_ROOT


@pytest.fixture(scope='module')
def photo():
    """A real 256x256 RGB photo (scikit-image's astronaut), uint8."""
    return cv2.resize(data.astronaut(), (256, 256), interpolation=cv2.INTER_AREA)


def blur(img, sigma):
    return cv2.GaussianBlur(img, (0, 0), sigma)


def test_niqe_is_basicsr_niqe_of_the_bgr_image(photo):
    expected = calculate_niqe(photo[..., ::-1].astype(np.float32), crop_border=0, input_order='HWC', convert_to='y')
    assert niqe_score(photo) == pytest.approx(expected, rel=1e-9)
    swapped = calculate_niqe(photo.astype(np.float32), crop_border=0, input_order='HWC', convert_to='y')
    assert niqe_score(photo) != pytest.approx(swapped, rel=1e-6)  # RGB is converted, not read as BGR


def test_niqe_rates_a_blurred_photo_worse(photo):
    assert niqe_score(blur(photo, 2.0)) > niqe_score(photo) + 1.0


def test_niqe_needs_two_blocks(photo):
    assert math.isnan(niqe_score(photo[:128, :128]))  # basicsr fails with an SVD error here
    assert math.isnan(niqe_score(photo[:191, :96]))
    assert math.isfinite(niqe_score(photo[:192, :96]))
    assert math.isnan(niqe_score(np.full((256, 256, 3), 90.0)))  # flat: no features (basicsr: SVD error)


def test_laplacian_detail_of_known_images():
    checker = (np.indices((16, 16)).sum(axis=0) % 2 * 255).astype(np.uint8)
    checker = np.repeat(checker[..., None], 3, axis=2)
    assert laplacian_detail(checker) == pytest.approx(4 * 255, rel=1e-4)  # |4 x 255 - 0| at every pixel
    assert laplacian_detail(np.full((16, 16, 3), 90, np.uint8)) == 0
    ramp = np.repeat(np.tile(np.arange(16, dtype=np.float64) * 10, (16, 1))[..., None], 3, axis=2)
    interior = np.zeros((16, 16), bool)
    interior[1:-1, 1:-1] = True
    assert laplacian_detail(ramp, interior) == pytest.approx(0, abs=1e-4)  # linear: no second derivative
    assert laplacian_detail(ramp) > 0  # the reflected border bends the ramp
    assert math.isnan(laplacian_detail(ramp, np.zeros((16, 16), bool)))


def test_identical_copy_is_kept(photo):
    outside = np.ones(photo.shape[:2], bool)
    scores = score_realism(photo, blur(photo, 1.0), photo.copy(), outside)
    assert scores['detail_retention'] == pytest.approx(1.0)
    assert scores['niqe_finetuned'] == pytest.approx(scores['niqe_gan'])
    assert scores['realism'] == 'kept'


def test_blurred_copy_is_a_collapse(photo):
    outside = np.ones(photo.shape[:2], bool)
    scores = score_realism(photo, blur(photo, 1.0), blur(photo, 2.0), outside)
    assert scores['detail_finetuned'] < scores['detail_mse'] < scores['detail_gan']
    assert scores['detail_retention'] < scores['mse_detail_retention']
    assert scores['realism'] == 'collapsed'


def test_detail_is_measured_outside_the_masks_only(photo):
    outside = np.ones(photo.shape[:2], bool)
    outside[64:192, 64:192] = False
    smoothed_inside = photo.copy()
    smoothed_inside[60:196, 60:196] = blur(photo, 3.0)[60:196, 60:196]  # the artifact region, and its seam
    scores = score_realism(photo, blur(photo, 1.0), smoothed_inside, outside)
    assert 0.9 < scores['detail_retention'] < 1.0  # only the 4-pixel seam outside the mask changed


@pytest.mark.parametrize('args, verdict', [
    ((5.0, 8.0, 5.2, 0.95, 0.4), 'kept'),
    ((5.0, 8.0, 5.8, 0.95, 0.4), 'softened'),  # NIQE up by more than 0.5
    ((5.0, 8.0, 5.2, 0.70, 0.4), 'softened'),  # detail below 0.8 of the GAN's
    ((5.0, 8.0, 5.2, 0.30, 0.4), 'collapsed'),  # less detail than the MSE-SR
    ((5.0, 8.0, 8.1, 0.95, 0.4), 'collapsed'),  # as unnatural as the MSE-SR
    ((5.0, 4.0, 5.2, 0.95, 0.4), 'kept'),  # MSE-SR rated better than the GAN: NIQE cannot name a collapse
    ((5.0, 5.3, 5.4, 0.95, 0.4), 'kept'),  # worse than the MSE-SR's NIQE, but within the margin: no collapse
    ((5.0, 8.0, 5.2, 0.95, 1.02), 'kept'),  # below a detailed MSE-SR's detail, but above min_retention
    ((5.0, 8.0, 5.2, 0.75, 0.4), 'softened'),
    ((5.0, 8.0, 5.2, 0.75, 0.9), 'collapsed'),  # softened down to the MSE-SR's detail
    ((6.18, 6.50, 6.50, 0.29, 0.29), 'collapsed'),  # the MSE model itself (grass_bottom of the demo)
    ((math.nan, 8.0, math.nan, 0.95, 0.4), 'kept'),  # small image: detail alone
    ((math.nan, math.nan, math.nan, math.nan, math.nan), 'n/a'),
])
def test_realism_verdict(args, verdict):
    assert realism_verdict(*args) == verdict


def test_verdict_thresholds():
    assert realism_verdict(5.0, 8.0, 5.2, 0.7, 0.4, min_retention=0.6) == 'kept'
    assert realism_verdict(5.0, 8.0, 5.8, 0.95, 0.4, niqe_margin=1.0) == 'kept'
    assert realism_verdict(5.0, 8.0, 5.2, 0.95, 0.4, niqe_margin=0.1) == 'softened'


def test_realism_options_defaults_and_errors():
    assert realism_options(None) == REALISM_DEFAULTS == {'niqe_margin': 0.5, 'min_retention': 0.8}
    assert realism_options({'min_retention': 1}) == {'niqe_margin': 0.5, 'min_retention': 1.0}
    with pytest.raises(ValueError, match='option val:realism: unknown key'):
        realism_options({'min_retension': 0.8}, 'val:realism')
    for bad in (-0.1, 'high', True, math.nan):
        with pytest.raises(ValueError, match='realism:niqe_margin must be a number >= 0'):
            realism_options({'niqe_margin': bad})


def test_summary_over_images():
    scores = [{'niqe_gan': 5.0, 'niqe_mse': 8.0, 'niqe_finetuned': 7.0, 'detail_retention': 0.3,
               'mse_detail_retention': 0.5, 'realism': 'collapsed'},
              {'niqe_gan': 6.0, 'niqe_mse': 9.0, 'niqe_finetuned': 9.5, 'detail_retention': 0.2,
               'mse_detail_retention': 0.4, 'realism': 'collapsed'},
              {'niqe_gan': math.nan, 'niqe_mse': math.nan, 'niqe_finetuned': math.nan, 'detail_retention': 0.9,
               'mse_detail_retention': 0.5, 'realism': 'kept'},  # a small image: no NIQE
              {'niqe_gan': None, 'detail_retention': None, 'realism': 'n/a'},  # JSON nulls
              {'image': 'from an older run, no realism figures'}]
    summary = summarize_realism(scores)
    assert summary['mean_niqe_gan'] == pytest.approx(5.5) and summary['mean_niqe_finetuned'] == pytest.approx(8.25)
    assert summary['mean_niqe_mse'] == pytest.approx(8.5)
    assert summary['mean_detail_retention'] == pytest.approx(1.4 / 3)
    assert summary['min_detail_retention'] == pytest.approx(0.2)
    assert (summary['realism_kept'], summary['realism_softened'], summary['realism_collapsed'],
            summary['realism_na']) == (1, 0, 2, 2)
    assert summary['realism'] == 'collapsed on 2 of 5 images, kept on 1'
    assert summarize_realism(scores[2:3])['realism'] == 'kept on 1 of 1 images'
    empty = summarize_realism([])
    assert empty['realism'] == 'n/a' and math.isnan(empty['mean_niqe_gan']) and math.isnan(
        empty['min_detail_retention'])


def test_known_niqe_is_used_instead_of_computed(photo):
    outside = np.ones(photo.shape[:2], bool)
    scores = score_realism(photo, blur(photo, 1.0), photo, outside, known_niqe={'gan': 1.0, 'mse': 2.0})
    assert (scores['niqe_gan'], scores['niqe_mse']) == (1.0, 2.0)
    assert scores['niqe_finetuned'] == pytest.approx(niqe_score(photo))


@pytest.mark.parametrize('option_file', ['test_finetune.yml', 'demo/test_finetune.yml'])
def test_shipped_evaluation_options_hold_the_default_thresholds(option_file):
    with open(os.path.join(REPO_ROOT, 'options', option_file), encoding='utf-8') as f:
        opt = yaml.safe_load(f)
    assert realism_options(opt['realism'], 'realism') == REALISM_DEFAULTS
