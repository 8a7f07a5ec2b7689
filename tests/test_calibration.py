"""Recomputing the class interval table (the semantic weights) from synthetic data with a known answer."""
import os
import runpy

import cv2
import numpy as np
import pytest

import desra  # noqa: F401  (basicsr shim)
from desra.detection import DistanceHistogram, calibrate_class_intervals, load_class_weights
from desra.detection.semantic import load_class_names, read_class_intervals, write_class_intervals
from tests.conftest import REPO_ROOT

NAMES = load_class_names()


def contrast_for_bins(bins):
    """Contrast values whose distance D = 1 - c falls in the middle of the given 20-interval bins."""
    return 1.0 - (np.asarray(bins, dtype=np.float64) + 0.5) / 20


def test_interval_is_where_the_85th_percentile_falls():
    histogram = DistanceHistogram(num_classes=4)
    # class 1: 85 pixels in bin 3, 15 in bin 10 -> 85% lie in bins 0..3; class 2: 84 + 16 -> idx 10.
    contrast = contrast_for_bins([3] * 85 + [10] * 15 + [3] * 84 + [10] * 16)
    labels = np.array([1] * 100 + [2] * 100)
    histogram.add(contrast[None], labels[None])
    np.testing.assert_array_equal(histogram.interval_indices(85.0), [-1, 3, 10, -1])
    np.testing.assert_array_equal(histogram.interval_indices(50.0), [-1, 3, 3, -1])


def test_interval_bounds_and_excluded_pixels():
    histogram = DistanceHistogram(num_classes=3)
    # D = 0.05 exactly opens bin 1; D = 1 (c = 0) and slightly negative D (c just above 1) stay in range.
    histogram.add(np.array([[0.95, 0.0, 1.0 + 1e-12]]), np.array([[0, 1, 2]]))
    np.testing.assert_array_equal(histogram.interval_indices(), [1, 19, 0])
    histogram = DistanceHistogram(num_classes=2)
    histogram.add(contrast_for_bins([[2, 2, 9, 9]]), np.array([[0, 0, 1, 1]]),
                  exclude=np.array([[False, False, True, True]]))
    np.testing.assert_array_equal(histogram.interval_indices(), [2, -1])
    with pytest.raises(ValueError, match='one shape'):
        histogram.add(np.ones((2, 2)), np.zeros((2, 3), int))
    with pytest.raises(ValueError, match=r'labels must lie in \[0, 1\]'):
        histogram.add(np.ones((1, 1)), np.array([[2]]))


def synthetic_pair(size=128):
    """Left half: class 'wall', GAN-SR == MSE-SR (D <= 0). Right half: class 'grass', flat MSE-SR and a
    +-100 checkerboard in GAN-SR (D > 0.95 wherever the window sees only the right half)."""
    rows, cols = np.mgrid[:size, :size]
    mse = np.repeat((60.0 + 0.5 * cols + 0.3 * rows)[..., None], 3, axis=2)
    gan = mse.copy()
    right = cols >= size // 2
    mse[right] = 128.0
    gan[right] = 128.0 + np.where((rows + cols) % 2 == 0, 100.0, -100.0)[right][:, None]
    labels = np.where(right, NAMES.index('grass'), NAMES.index('wall'))
    return mse, gan, labels


def test_calibration_recovers_the_known_intervals():
    mse, gan, labels = synthetic_pair()
    intervals, unseen = calibrate_class_intervals([(mse, gan, labels, None)])
    shipped = read_class_intervals()
    assert intervals['wall'] == 0 and intervals['grass'] == 19
    assert sorted(unseen) == sorted(set(NAMES) - {'wall', 'grass'})
    assert all(intervals[name] == shipped[name] for name in unseen)
    # Labelled artifacts are left out: the grass pixels are, so grass keeps its shipped interval.
    intervals, unseen = calibrate_class_intervals([(mse, gan, labels, labels == NAMES.index('grass'))])
    assert 'grass' in unseen and intervals['grass'] == shipped['grass'] and intervals['wall'] == 0


def test_written_table_has_the_shipped_format(tmp_path):
    intervals = read_class_intervals()
    intervals['grass'] = 19
    path = tmp_path / 'intervals.txt'
    write_class_intervals(path, intervals)
    lines = path.read_text().splitlines()
    assert lines == sorted(lines, key=lambda line: line.rsplit('--', 1)[0]) and len(lines) == 150
    assert 'grass--19' in lines and 'armchair--0' in lines
    assert load_class_weights(path)[NAMES.index('grass')] == 20.0


def test_calibration_script_on_label_maps(tmp_path, capsys):
    mse, gan, labels = synthetic_pair()
    for folder, image in (('mse', mse), ('gan', gan), ('labels', labels)):
        (tmp_path / folder).mkdir()
        cv2.imwrite(str(tmp_path / folder / 'a.png'), np.round(image[..., ::-1] if image.ndim == 3 else image)
                    .astype(np.uint8))
    output = tmp_path / 'calibrated.txt'
    script = runpy.run_path(os.path.join(REPO_ROOT, 'scripts', 'calibrate_semantic_weights.py'))
    assert script['main']([
        '--mse_root', str(tmp_path / 'mse'), '--gan_root', str(tmp_path / 'gan'), '--label_root',
        str(tmp_path / 'labels'), '--output', str(output)
    ]) == 0
    table = read_class_intervals(output)
    assert table['wall'] == 0 and table['grass'] == 19
    assert '148 classes never seen' in capsys.readouterr().out
