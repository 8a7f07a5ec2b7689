"""Stage 2 builder: pseudo-GT equation, mask border, crop windows, and the CLI on a tiny synthetic detection run."""
import os

import cv2
import numpy as np
import pytest
import yaml

from desra.build_dataset import main
from desra.config.options import load_yaml, parse_command_options
from desra.data.aligned_crop import LQWindow, artifact_windows, window_around
from desra.data.dataset_builder import REQUIRED_SOURCES, BuildSettings, DatasetBuilder
from desra.data.pseudo_gt import blend_weights, mask_to_hr, pseudo_gt_image
from tests.conftest import REPO_ROOT, upsample

SCALE = 4


# ----------------------------------------------------------------------------------------------- pseudo-GT equation
def test_hard_mask_takes_mse_inside_and_gan_outside_exactly():
    rng = np.random.default_rng(0)
    sr_mse = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
    sr_gan = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
    mask = np.zeros((12, 16), bool)
    mask[3:7, 5:11] = True
    gt = pseudo_gt_image(sr_mse, sr_gan, mask)
    assert gt.dtype == np.uint8
    np.testing.assert_array_equal(gt, np.where(mask[..., None], sr_mse, sr_gan))


def test_hard_mask_keeps_16_bit_depth_exactly():
    rng = np.random.default_rng(1)
    sr_mse = rng.integers(0, 65536, (8, 8, 3), dtype=np.uint16)
    sr_gan = rng.integers(0, 65536, (8, 8, 3), dtype=np.uint16)
    mask = np.eye(8, dtype=bool)
    gt = pseudo_gt_image(sr_mse, sr_gan, mask)
    assert gt.dtype == np.uint16
    np.testing.assert_array_equal(gt, np.where(mask[..., None], sr_mse, sr_gan))


def test_feathered_blend_follows_the_sampled_gaussian():
    """Mask = columns >= 20. With a normalised sampled Gaussian g(k), |k| <= 4 sigma, the MSE weight of column j is
    w(j) = sum over k with j + k >= 20 of g(k), and the pseudo-GT is w * mse + (1 - w) * gan."""
    sigma, edge = 2.0, 20
    mask = np.zeros((6, 40), bool)
    mask[:, edge:] = True
    radius = int(round(4 * sigma))
    k = np.arange(-radius, radius + 1)
    g = np.exp(-k ** 2 / (2 * sigma ** 2))
    g /= g.sum()
    expected_w = np.array([g[j + k >= edge].sum() for j in range(40)])

    np.testing.assert_allclose(blend_weights(mask, sigma), np.broadcast_to(expected_w, (6, 40)), atol=1e-6)
    assert expected_w[edge - radius - 1] == 0 and expected_w[edge + radius] == 1  # the seam is 2 * radius wide

    sr_mse = np.full((6, 40, 3), 200, np.uint8)
    sr_gan = np.full((6, 40, 3), 40, np.uint8)
    gt = pseudo_gt_image(sr_mse, sr_gan, mask, feather_sigma=sigma)
    expected = expected_w * 200 + (1 - expected_w) * 40
    np.testing.assert_allclose(gt[0, :, 0].astype(float), expected, atol=0.5 + 1e-3)  # rounding to uint8


# ------------------------------------------------------------------------------------------------------ mask border
def test_mask_smaller_by_twice_the_border_is_zero_padded():
    mask = np.ones((22, 30), bool)
    full = mask_to_hr(mask, (32, 40), border=5, mask_path='m.png')
    assert full.shape == (32, 40)
    assert full[5:27, 5:35].all() and full.sum() == 22 * 30


def test_full_size_mask_is_kept_and_other_sizes_are_an_error():
    mask = np.zeros((32, 40), bool)
    assert mask_to_hr(mask, (32, 40), border=5, mask_path='m.png') is mask
    with pytest.raises(ValueError, match=r'm\.png: mask is 30x40 but the HR size \(scale x LR\) is 32x40'):
        mask_to_hr(np.zeros((30, 40), bool), (32, 40), border=5, mask_path='m.png')


# ------------------------------------------------------------------------------------------------ crop-mode windows
def test_window_around_contains_the_centre_and_is_scale_aligned():
    for center in range(0, 64):
        window = window_around((center, 63 - center), (16, 16), 4, SCALE)
        assert (window.height, window.width) == (4, 4)
        assert window.top * SCALE <= center < (window.top + 4) * SCALE
        assert window.left * SCALE <= 63 - center < (window.left + 4) * SCALE
        assert 0 <= window.top <= 12 and 0 <= window.left <= 12


def test_artifact_windows_cover_largest_parts_first():
    mask = np.zeros((64, 64), bool)
    mask[40:50, 40:52] = True  # largest part
    mask[2:4, 2:4] = True  # small part
    mask[44:46, 44:46] = False  # a hole does not split the part
    windows = artifact_windows(mask, (16, 16), lq_size=4, scale=SCALE, max_windows=4)
    assert len(windows) == 2
    # Largest part first: bounding box (40..49, 40..51), centre (45, 46) -> LR start ((45 - 8) // 4, (46 - 8) // 4).
    # Small part: centre (3, 3) -> start (3 - 8) // 4 = -2, clamped to 0.
    assert windows == [LQWindow(9, 9, 4, 4), LQWindow(0, 0, 4, 4)]
    assert len(artifact_windows(mask, (16, 16), 4, SCALE, max_windows=1)) == 1
    empty = artifact_windows(np.zeros((64, 64), bool), (16, 16), 4, SCALE, max_windows=4)
    assert [(w.top, w.left, w.height) for w in empty] == [(6, 6, 4)]  # one window at the centre


# ---------------------------------------------------------------------------------------- CLI on a synthetic run
def make_detection_run(root, names=('a', 'b', 'c')):
    """LR 8x10; SR 32x40. 'a': full-size mask with two artifact parts, 'b': one part, mask smaller by 2 * 5 px,
    'c': empty mask. MSE-SR is the nearest-upsampled LR, GAN-SR is random, so gt == where(mask, up(lr), gan) is
    checkable pixel by pixel."""
    rng = np.random.default_rng(7)
    truth = {}
    for folder in ('lr', 'sr_mse', 'sr_gan', 'masks'):
        os.makedirs(root / folder, exist_ok=True)
    for name in names:
        lr = rng.integers(0, 256, (8, 10, 3), dtype=np.uint8)
        gan = rng.integers(0, 256, (32, 40, 3), dtype=np.uint8)
        mask = np.zeros((32, 40), np.uint8)
        if name == 'a':
            mask[5:13, 6:20] = 255
            mask[24:28, 30:36] = 255
            written_mask = mask
        elif name == 'b':
            mask[20:26, 25:33] = 255
            written_mask = mask[5:-5, 5:-5]
        else:
            written_mask = mask
        cv2.imwrite(str(root / 'lr' / f'{name}.png'), lr)
        cv2.imwrite(str(root / 'sr_mse' / f'{name}.png'), upsample(lr))
        cv2.imwrite(str(root / 'sr_gan' / f'{name}.png'), gan)
        cv2.imwrite(str(root / 'masks' / f'{name}.png'), written_mask)
        truth[name] = (lr, gan, mask > 0)
    return truth


def write_options(tmp_path, **build):
    run = tmp_path / 'detect'
    opt = {'name': 'build', 'scale': SCALE, 'num_gpu': 0, 'manual_seed': 0,
           'datasets': {'build': {'dataroot_mask': str(run / 'masks'), 'dataroot_mse': str(run / 'sr_mse'),
                                  'dataroot_gan': str(run / 'sr_gan'), 'dataroot_lq': str(run / 'lr')}},
           'build': build, 'path': {'results_root': str(tmp_path / 'results')}}
    path = tmp_path / 'build.yml'
    path.write_text(yaml.safe_dump(opt))
    return ['-opt', str(path)], tmp_path / 'results' / 'build'


def read(path):
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


def test_cli_builds_whole_images_and_rerun_skips(tmp_path):
    truth = make_detection_run(tmp_path / 'detect')
    args, out = write_options(tmp_path)
    assert main(args) == 0
    assert (out / 'meta_info.txt').read_text() == 'a.png\nb.png\n'  # 'c' has no artifact, negative_ratio 0
    for name in ('a', 'b'):
        lr, gan, mask = truth[name]
        np.testing.assert_array_equal(read(out / 'lq' / f'{name}.png'), lr)
        np.testing.assert_array_equal(read(out / 'mask' / f'{name}.png'), mask.astype(np.uint8) * 255)
        np.testing.assert_array_equal(read(out / 'gt' / f'{name}.png'), np.where(mask[..., None], upsample(lr), gan))
    assert not (out / 'gt' / 'c.png').exists()

    stamps = {p: p.stat().st_mtime_ns for p in out.glob('*/*.png')}
    assert len(stamps) == 6
    assert main(args) == 0
    assert {p: p.stat().st_mtime_ns for p in out.glob('*/*.png')} == stamps  # nothing rewritten
    assert (out / 'meta_info.txt').read_text() == 'a.png\nb.png\n'


def test_cli_negatives_get_the_gan_sr_and_an_empty_mask(tmp_path):
    truth = make_detection_run(tmp_path / 'detect')
    args, out = write_options(tmp_path, negative_ratio=1.0)
    assert main(args) == 0
    assert (out / 'meta_info.txt').read_text() == 'a.png\nb.png\nc.png\n'
    np.testing.assert_array_equal(read(out / 'gt' / 'c.png'), truth['c'][1])
    assert not read(out / 'mask' / 'c.png').any()


def test_bad_pairs_are_reported_the_rest_is_built_and_the_status_is_1(tmp_path):
    make_detection_run(tmp_path / 'detect')
    detect = tmp_path / 'detect'
    cv2.imwrite(str(detect / 'sr_gan' / 'b.png'), np.zeros((30, 40, 3), np.uint8))
    os.remove(detect / 'lr' / 'a.png')
    args, out = write_options(tmp_path, negative_ratio=1.0)
    assert main(args) == 1
    assert (out / 'meta_info.txt').read_text() == 'c.png\n'  # the good image is still built

    builder = DatasetBuilder(parse_command_options('build', 'build_dataset', args=args)[0])
    assert builder.run() == 1
    messages = {failure.name: failure.message for failure in builder.failures}
    assert messages['a'] == (f'{detect / "sr_gan" / "a.png"} (GAN-SR) has no LR image: no file named "a.*" in '
                             f'{detect / "lr"}')
    assert messages['b'] == (f'size mismatch at scale 4: LR {detect / "lr" / "b.png"} is 8x10 (so SR should be 32x40), '
                             f'MSE-SR {detect / "sr_mse" / "b.png"} is 32x40, GAN-SR {detect / "sr_gan" / "b.png"} is '
                             '30x40')
    assert builder.samples == ['c.png']


def test_bad_options_are_rejected_before_any_work(tmp_path):
    make_detection_run(tmp_path / 'detect')
    args, out = write_options(tmp_path, crop={'enabled': True, 'gt_size': 30})
    with pytest.raises(ValueError, match=r'build: crop: gt_size must be a multiple of scale \(4\) .* got 30'):
        main(args)
    assert not (out / 'gt').exists()


def find_window(lr, crop):
    """(top, left) of the only place where ``crop`` occurs in ``lr`` (random content: unique)."""
    h, w = crop.shape[:2]
    hits = [(top, left) for top in range(lr.shape[0] - h + 1) for left in range(lr.shape[1] - w + 1)
            if np.array_equal(lr[top:top + h, left:left + w], crop)]
    assert len(hits) == 1
    return hits[0]


def test_cli_crop_mode_writes_aligned_sub_images_around_artifacts(tmp_path):
    truth = make_detection_run(tmp_path / 'detect')
    args, out = write_options(tmp_path, crop={'enabled': True, 'gt_size': 16, 'max_crops_per_image': 3})
    assert main(args) == 0
    names = (out / 'meta_info.txt').read_text().split()
    assert names == ['a_s001.png', 'a_s002.png', 'b_s001.png']  # one window per artifact part
    for name in names:
        lr, gan, mask = truth[name[0]]
        lq_crop = read(out / 'lq' / name)
        assert lq_crop.shape == (4, 4, 3)
        top, left = find_window(lr, lq_crop)
        hr = np.s_[top * SCALE:(top + 4) * SCALE, left * SCALE:(left + 4) * SCALE]
        np.testing.assert_array_equal(read(out / 'mask' / name), mask[hr].astype(np.uint8) * 255)
        expected_gt = np.where(mask[hr][..., None], upsample(lr)[hr], gan[hr])
        np.testing.assert_array_equal(read(out / 'gt' / name), expected_gt)
        assert mask[hr].any()


@pytest.mark.parametrize('path', ['options/build_dataset.yml', 'options/demo/build_dataset.yml'])
def test_shipped_option_files_are_valid(path):
    opt = load_yaml(os.path.join(REPO_ROOT, path))
    settings = BuildSettings.from_options(opt)  # raises on any invalid value
    assert (settings.scale, settings.gt_size) == (opt['scale'], opt['build']['crop']['gt_size'])
    assert all(opt['datasets']['build'][key] for key in REQUIRED_SOURCES)
