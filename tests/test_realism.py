"""Realism figures of fine-tuned results: NIQE, Laplacian detail, detail retention and the collapse verdict."""
import math

import cv2
import numpy as np
import pytest
from basicsr.metrics.niqe import calculate_niqe
from skimage import data

from desra.metrics.realism import laplacian_detail, niqe_score, realism_verdict, score_realism


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
    ((math.nan, 8.0, math.nan, 0.95, 0.4), 'kept'),  # small image: detail alone
    ((math.nan, math.nan, math.nan, math.nan, math.nan), 'n/a'),
])
def test_realism_verdict(args, verdict):
    assert realism_verdict(*args) == verdict
