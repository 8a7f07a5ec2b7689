"""DeSRA Stage 1 without segmentation: contrast map (Eq. 7), class weights, morphology, the detector.

The contrast map is checked against a float64 reference written here straight from the equations: a Gaussian
window from its formula, per-channel direct valid-mode correlation (scipy), E[z^2] - E[z]^2.
"""
import cv2
import numpy as np
import pytest
import skimage.data
import torch
from scipy import ndimage, signal

import desra  # noqa: F401  (basicsr shim)
from desra.detection import (ArtifactDetector, clean_mask, contrast_map, fill_holes, load_class_weights,
                             remove_small_parts, semantic_weight_map)
from desra.detection import contrast as contrast_module
from desra.detection.contrast import embed_interior
from desra.detection.semantic import load_class_names, read_class_intervals

NO_SEGMENTER = {'segmenter': {'type': 'none'}}
ARTIFACT_BOXES = ((30, 30, 70, 80), (150, 140, 70, 80))  # top, left, height, width


def gaussian_window(window_size, sigma):
    """Normalised 2-D Gaussian window: outer product of exp(-k^2 / (2 sigma^2)), k = -r..r."""
    k = np.arange(window_size) - window_size // 2
    g = np.exp(-k**2 / (2.0 * sigma**2))
    g /= g.sum()
    return np.outer(g, g)


def reference_contrast(x, y, window_size=11, sigma=1.5, c_factor=0.03, eps=1e-8):
    """Eq. 7 in float64, channel by channel, with direct valid-mode correlation."""
    window = gaussian_window(window_size, sigma)
    constant = (c_factor * 255.0)**2
    x = np.atleast_3d(np.asarray(x, dtype=np.float64))
    y = np.atleast_3d(np.asarray(y, dtype=np.float64))
    maps = []
    for ch in range(x.shape[2]):
        a, b = x[..., ch], y[..., ch]
        mean_a, mean_b = (signal.correlate2d(z, window, mode='valid') for z in (a, b))
        var_a = signal.correlate2d(a * a, window, mode='valid') - mean_a**2
        var_b = signal.correlate2d(b * b, window, mode='valid') - mean_b**2
        maps.append((2 * np.sqrt(var_a + eps) * np.sqrt(var_b + eps) + constant) / (var_a + var_b + constant))
    return np.mean(maps, axis=0)


def reference_mask(binary, min_area):
    """The DeSRA release's morphology: float64 erode/dilate, scipy hole filling, connected-component areas."""
    kernel = np.ones((5, 5), np.uint8)
    mask = cv2.dilate(cv2.erode(binary.astype(np.float64), kernel, iterations=1), kernel, iterations=3)
    mask = ndimage.binary_fill_holes(mask, structure=np.ones((3, 3))).astype(np.uint8)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    keep = [i for i in range(1, len(stats)) if stats[i, cv2.CC_STAT_AREA] > min_area]
    return np.isin(labels, keep)


def photo_pair(name, size=256):
    """A scikit-image photo as GAN-SR, MSE-SR its smoothed version; in two boxes, where MSE-SR is very smooth,
    GAN-SR is MSE-SR + a high-frequency texture (the painted artifacts).

    A 40x40 patch is flat in both images (zero local variance, where the square root is most sensitive).
    """
    photo = np.atleast_3d(getattr(skimage.data, name)())[..., :3]
    gan = cv2.resize(np.repeat(photo, 3 // photo.shape[2], axis=2), (size, size), interpolation=cv2.INTER_AREA)
    gan = gan.astype(np.float64)
    mse = cv2.GaussianBlur(gan, (0, 0), 2.0)
    smoother = np.clip(cv2.GaussianBlur(gan, (0, 0), 8.0), 60, 195)
    rows, cols = np.mgrid[:size, :size]
    texture = 60.0 * np.sin(2.1 * cols) * np.sin(1.7 * rows)
    for top, left, height, width in ARTIFACT_BOXES:
        box = (slice(top, top + height), slice(left, left + width))
        mse[box] = smoother[box]
        gan[box] = smoother[box] + texture[box][..., None]
    gan[100:140, 20:60] = mse[100:140, 20:60] = 128.0
    return mse, np.clip(gan, 0, 255)


@pytest.mark.parametrize('name', ['astronaut', 'coffee', 'camera'])
def test_contrast_map_matches_equations_on_photos(name):
    mse, gan = photo_pair(name)
    ours = contrast_map(mse, gan)
    assert ours.shape == (246, 246) and ours.dtype == np.float64
    np.testing.assert_allclose(ours, reference_contrast(mse, gan), rtol=0, atol=1e-4)
    assert ours[100:125, 20:45].min() == pytest.approx(1.0)  # flat in both: no evidence
    assert ours[35:90, 35:100].mean() < 0.5  # painted texture on a smooth MSE-SR: low contrast


@pytest.mark.parametrize('options', [{}, dict(window_size=7, sigma=2.0, c_factor=0.05, eps=1e-6)])
def test_contrast_map_matches_equations_on_random_images(options):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (61, 47, 3))
    y = np.where(rng.random((61, 47, 1)) < 0.5, x, rng.uniform(0, 255, (61, 47, 3)))
    y[:20, :20] = x[:20, :20] = 255.0  # saturated and flat: E[z^2] - E[z]^2 cancels at its worst
    np.testing.assert_allclose(contrast_map(x, y, **options), reference_contrast(x, y, **options),
                               rtol=0, atol=1e-4)


def test_contrast_map_of_grayscale_and_uint8_inputs():
    rng = np.random.default_rng(1)
    x, y = rng.integers(0, 256, (2, 40, 50), dtype=np.uint8)
    np.testing.assert_allclose(contrast_map(x, y), reference_contrast(x, y), rtol=0, atol=1e-4)


@pytest.mark.parametrize('strip_elements', [1, 700, 5000])
def test_contrast_map_is_independent_of_strip_height(monkeypatch, strip_elements):
    mse, gan = photo_pair('chelsea', size=96)
    whole = contrast_map(mse, gan)
    monkeypatch.setattr(contrast_module, '_STRIP_ELEMENTS', strip_elements)  # 1, 2 or 17 rows per strip
    np.testing.assert_array_equal(contrast_map(mse, gan), whole)


def test_torch_contrast_map_matches_the_cpu_path():
    mse, gan = photo_pair('astronaut', size=80)
    gan = gan.astype(np.float32)
    ours = contrast_map(torch.from_numpy(mse), torch.from_numpy(gan))
    assert isinstance(ours, torch.Tensor) and ours.dtype == torch.float64 and ours.shape == (70, 70)
    np.testing.assert_allclose(ours.numpy(), contrast_map(mse, gan), rtol=0, atol=1e-9)


def test_masks_match_the_float64_pipeline():
    mse, gan = photo_pair('astronaut')
    threshold, min_area = 0.7, 1000
    adjusted_ref = np.clip(reference_contrast(mse, gan), 0, 1)
    result = ArtifactDetector(dict(NO_SEGMENTER, min_area=min_area), device='cpu').detect(mse, gan)

    ambiguous = np.abs(adjusted_ref - threshold) < 1e-4
    ours = result.adjusted < threshold
    np.testing.assert_array_equal(ours[~ambiguous], (adjusted_ref < threshold)[~ambiguous])
    # Given the same decisions on the ambiguous pixels, the release's morphology gives our mask exactly.
    binary_ref = np.where(ambiguous, ours, adjusted_ref < threshold)
    np.testing.assert_array_equal(result.binary_valid, reference_mask(binary_ref, min_area))


def test_detector_finds_the_painted_artifacts():
    mse, gan = photo_pair('coffee')
    result = ArtifactDetector(dict(NO_SEGMENTER, min_area=1000)).detect(mse, gan)
    r = 5
    assert result.contrast.shape == result.weights.shape == result.adjusted.shape == (246, 246)
    assert result.labels is None and np.all(result.weights == 1.0)
    np.testing.assert_array_equal(result.adjusted, np.clip(result.contrast, 0, 1))
    assert result.mask.shape == (256, 256) and result.mask.dtype == bool
    assert not result.mask[:r].any() and not result.mask[-r:].any()
    assert not result.mask[:, :r].any() and not result.mask[:, -r:].any()
    np.testing.assert_array_equal(result.mask[r:-r, r:-r], result.binary_valid)
    for top, left, height, width in ARTIFACT_BOXES:
        assert result.mask[top:top + height, left:left + width].mean() > 0.95
    _, num_parts = remove_small_parts(result.mask, 1000)
    assert result.num_parts == num_parts >= 2


def test_detector_errors_name_the_shapes():
    detector = ArtifactDetector(NO_SEGMENTER)
    with pytest.raises(ValueError, match=r'\(11, 40, 3\).*too small'):
        detector.detect(np.zeros((11, 40, 3)), np.zeros((11, 40, 3)))
    with pytest.raises(ValueError, match=r'\(32, 32, 3\) vs \(32, 30, 3\)'):
        detector.detect(np.zeros((32, 32, 3)), np.zeros((32, 30, 3)))
    with pytest.raises(ValueError, match=r'thresold: unknown option; did you mean "threshold"'):
        ArtifactDetector(dict(NO_SEGMENTER, thresold=0.5))


def test_shipped_class_weights():
    names = load_class_names()
    weights = load_class_weights()
    assert len(names) == 150 and weights.shape == (150,)
    assert weights[names.index('armchair')] == 1.0  # armchair--0
    assert weights[names.index('animal')] == pytest.approx(20 / 17)  # animal--3
    intervals = read_class_intervals()
    np.testing.assert_allclose(weights, [20 / (20 - intervals[name]) for name in names])


def test_semantic_weight_map_and_its_errors(tmp_path):
    weights = np.array([1.0, 2.0, 4.0])
    np.testing.assert_array_equal(semantic_weight_map(np.array([[0, 2], [1, 1]]), weights), [[1, 4], [2, 2]])
    with pytest.raises(ValueError, match=r'\[0, 2\]'):
        semantic_weight_map(np.array([[3]]), weights)
    table = tmp_path / 'intervals.txt'
    table.write_text('armchair--20\n')
    with pytest.raises(ValueError, match='intervals.txt, line 1.*interval index'):
        load_class_weights(table)
    table.write_text('unicorn--2\n')
    with pytest.raises(ValueError, match='unknown class "unicorn"'):
        load_class_weights(table)
    table.write_text('armchair--2\n')
    with pytest.raises(ValueError, match='no interval for 149 classes'):
        load_class_weights(table)


def square_mask(size, boxes):
    mask = np.zeros((size, size), bool)
    for top, left, height, width in boxes:
        mask[top:top + height, left:left + width] = True
    return mask


def test_erosion_removes_small_blobs_and_dilation_grows_the_rest():
    mask = square_mask(40, [(5, 5, 4, 4), (20, 20, 5, 5)])
    # The 4x4 blob vanishes; the 5x5 blob erodes to its centre (22, 22), then grows to 13x13 in three dilations.
    expected = square_mask(40, [(16, 16, 13, 13)])
    np.testing.assert_array_equal(clean_mask(mask, min_area=0), expected)
    np.testing.assert_array_equal(clean_mask(mask, dilate_iterations=0, min_area=0), square_mask(40, [(22, 22, 1, 1)]))


def test_fill_holes_fills_rings_with_8_connectivity():
    ring = square_mask(30, [(5, 5, 12, 12)]) & ~square_mask(30, [(8, 8, 6, 6)])
    np.testing.assert_array_equal(fill_holes(ring), square_mask(30, [(5, 5, 12, 12)]))
    open_ring = ring.copy()
    open_ring[10, 5:8] = False  # a gap through the wall: the inside reaches the border
    np.testing.assert_array_equal(fill_holes(open_ring), open_ring)
    closed = np.ones((3, 3), bool)
    closed[1, 1] = False
    diamond = np.zeros((3, 3), bool)
    diamond[[0, 1, 1, 2], [1, 0, 2, 1]] = True
    np.testing.assert_array_equal(fill_holes(np.pad(closed, 1)), np.pad(np.ones((3, 3), bool), 1))
    # With the 3x3 element the centre of a diamond touches the outside diagonally: not a hole.
    np.testing.assert_array_equal(fill_holes(np.pad(diamond, 1)), np.pad(diamond, 1))
    np.testing.assert_array_equal(clean_mask(ring, erode_iterations=0, dilate_iterations=0, min_area=0),
                                  fill_holes(ring))


@pytest.mark.parametrize('kernel', [3, 5])
def test_fill_holes_equals_scipy(kernel):
    rng = np.random.default_rng(kernel)
    for _ in range(30):
        # scipy itself corrupts memory on masks with a side shorter than the structure: compare from that size up
        mask = rng.random(tuple(rng.integers(kernel, 30, 2))) < rng.uniform(0.2, 0.8)
        np.testing.assert_array_equal(fill_holes(mask, kernel),
                                      ndimage.binary_fill_holes(mask, structure=np.ones((kernel, kernel))))


def test_fill_holes_handles_masks_smaller_than_the_structure():
    tiny = np.array([[1, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=bool)
    np.testing.assert_array_equal(fill_holes(tiny, kernel=5), tiny)  # the 5x5 square reaches the border: no hole
    np.testing.assert_array_equal(fill_holes(tiny, kernel=3), np.ones((3, 3), bool))
    assert fill_holes(np.zeros((2, 4), bool), kernel=7).shape == (2, 4)


def test_area_filter_keeps_parts_larger_than_min_area_with_8_connectivity():
    no_morphology = dict(erode_iterations=0, dilate_iterations=0, min_area=4000)
    exactly = square_mask(200, [(0, 0, 50, 80)])  # 4000 px
    assert not clean_mask(exactly, **no_morphology).any()
    one_more = exactly.copy()
    one_more[50, 80] = True  # touches the block diagonally only: one 8-connected part of 4001 px
    kept, num_parts = clean_mask(one_more, return_num_parts=True, **no_morphology)
    np.testing.assert_array_equal(kept, one_more)
    assert num_parts == 1
    apart = exactly.copy()
    apart[51, 81] = True  # no longer touching: 4000 px + 1 px, both removed
    assert not clean_mask(apart, **no_morphology).any()


def test_clean_mask_errors():
    with pytest.raises(ValueError, match=r'2-D.*\(4, 4, 3\)'):
        clean_mask(np.zeros((4, 4, 3), bool))
    with pytest.raises(ValueError, match='erode_kernel must be a positive integer'):
        clean_mask(np.zeros((4, 4), bool), erode_kernel=0)


@pytest.mark.parametrize('key, value, expected', [('window_size', 10, 'positive odd integer'),
                                                  ('min_area', -1, 'integer >= 0'),
                                                  ('eps', '1e-8', r'number >= 0'),
                                                  ('threshold', 1.0, r'number in \(0, 1\)'),
                                                  ('sigma', 0, 'number > 0')])
def test_detector_options_are_checked_at_construction(key, value, expected):
    with pytest.raises(ValueError, match=f'{key}: must be an? {expected}'):
        ArtifactDetector(dict(NO_SEGMENTER, **{key: value}))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_detector_on_cuda_matches_the_cpu():
    mse, gan = photo_pair('coffee')
    opt = dict(NO_SEGMENTER, min_area=1000)
    on_cpu, on_gpu = (ArtifactDetector(opt, device).detect(mse, gan) for device in ('cpu', 'cuda'))
    np.testing.assert_allclose(on_gpu.contrast, on_cpu.contrast, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(on_gpu.mask, on_cpu.mask)


def test_embed_interior_is_the_inverse_of_the_valid_crop():
    interior = np.arange(12, dtype=np.float64).reshape(3, 4)
    frame = embed_interior(interior, (13, 14), fill=-1)
    assert frame.shape == (13, 14) and frame.dtype == np.float64
    np.testing.assert_array_equal(frame[5:-5, 5:-5], interior)
    assert (frame[:5] == -1).all() and (frame[:, -5:] == -1).all()
    assert embed_interior(np.ones((3, 4, 3), np.uint8), (13, 14)).shape == (13, 14, 3)
    with pytest.raises(ValueError, match=r'\(3, 5\) is not the interior of a \(13, 14\) image'):
        embed_interior(np.zeros((3, 5)), (13, 14))
