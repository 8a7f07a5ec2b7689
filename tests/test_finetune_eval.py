"""Fine-tuning evaluation: the metrics on hand-made masks, and ``desra/test.py`` end to end with tiny networks."""
import csv
import json
import math
import os

import numpy as np
import pytest
from conftest import run_tiny_test_command, write_random_images
from skimage.metrics import structural_similarity

from desra.detection.contrast import contrast_map
from desra.io.images import load_rgb255, read_image
from desra.metrics import FinetuneImageScore, finetune_metrics
from desra.metrics import (addition_rate, psnr_outside, removal_rate, score_finetune, ssim_map, ssim_outside,
                           summarize_finetune, texture_difference, texture_reduction)


def block_masks():
    """before: a 10x10 block (100 px); after: 60 px of it plus 20 px elsewhere."""
    before = np.zeros((40, 40), bool)
    before[5:15, 5:15] = True
    after = np.zeros((40, 40), bool)
    after[5:11, 5:15] = True
    after[30:34, 30:35] = True
    return before, after


def test_removal_and_addition_rates():
    before, after = block_masks()
    assert removal_rate(before, after) == pytest.approx(40 / 100)  # 40 of the 100 before-pixels are gone
    assert addition_rate(before, after) == pytest.approx(20 / 100)  # 20 new pixels, per before-pixel
    empty = np.zeros_like(before)
    assert math.isnan(removal_rate(empty, after)) and math.isnan(addition_rate(empty, after))
    assert removal_rate(before, empty) == 1 and addition_rate(before, empty) == 0


def test_psnr_and_ssim_only_look_outside_both_masks():
    before, after = block_masks()
    rng = np.random.default_rng(0)
    original = rng.uniform(20, 230, (40, 40, 3))
    finetuned = original + 5.0  # a difference of 5 gray levels everywhere ...
    finetuned[before | after] = 0  # ... and anything at all inside the masks
    outside = ~(before | after)
    assert psnr_outside(original, finetuned, outside) == pytest.approx(10 * math.log10(255 ** 2 / 25))
    _, skimage_map = structural_similarity(original, finetuned, full=True, gaussian_weights=True, sigma=1.5,
                                           use_sample_covariance=False, data_range=255, channel_axis=2)
    assert ssim_outside(original, finetuned, outside) == pytest.approx(skimage_map[outside].mean())
    # the one SSIM map, shared with the SSIM baseline detector: scikit-image's, averaged over the channels
    np.testing.assert_allclose(ssim_map(original, finetuned), skimage_map.mean(axis=2), rtol=0, atol=1e-12)
    assert psnr_outside(original, original, outside) == math.inf
    assert math.isnan(psnr_outside(original, finetuned, np.zeros((40, 40), bool)))

    score = score_finetune('img', before, after, original, finetuned)
    assert (score.before_pixels, score.after_pixels, score.removed_pixels, score.added_pixels) == (100, 80, 40, 20)
    assert (score.before_parts, score.after_parts) == (1, 2)
    assert score.before_percent == pytest.approx(100 * 100 / 1600) and score.outside_pixels == 1600 - 120
    with pytest.raises(ValueError, match='img: masks'):
        score_finetune('img', before, after[:, :-1], original, finetuned)


def test_score_takes_the_part_counts_it_is_given_and_counts_only_the_others(monkeypatch):
    before, after = block_masks()
    image = np.full((40, 40, 3), 100.0)
    counted = []
    count_parts = finetune_metrics.count_parts
    monkeypatch.setattr(finetune_metrics, 'count_parts', lambda mask: counted.append(mask) or count_parts(mask))
    score = score_finetune('img', before, after, image, image, before_parts=1, after_parts=2)  # the detector's
    assert (score.before_parts, score.after_parts) == (1, 2) and counted == []
    score = score_finetune('img', before, after, image, image, before_parts=1)
    assert (score.before_parts, score.after_parts) == (1, 2) and len(counted) == 1 and counted[0] is after


def test_totals_pool_pixels_over_images():
    before, after = block_masks()
    image = np.full((40, 40, 3), 100.0)
    empty = np.zeros_like(before)
    scores = [score_finetune('a', before, after, image, image + 2),
              score_finetune('b', empty, after, image, image)]  # no artifact before: rates undefined, PSNR inf
    summary = summarize_finetune(scores)
    assert summary['before_pixels'] == 100 and summary['after_pixels'] == 160
    assert summary['image_pixels'] == 3200
    assert summary['before_percent'] == pytest.approx(100 * 100 / 3200)
    assert summary['after_percent'] == pytest.approx(100 * 160 / 3200)
    assert summary['removal_rate'] == pytest.approx(40 / 100)
    assert summary['addition_rate'] == pytest.approx((20 + 80) / 100)  # b's added pixels count in the pool
    assert summary['mean_addition_rate'] == pytest.approx(0.2)  # per image, over images with artifacts before
    assert summary['mean_psnr_outside'] == pytest.approx(10 * math.log10(255 ** 2 / 4))  # b's inf left out
    assert summary['images_with_artifacts_before'] == 1 and summary['images_with_artifacts_after'] == 2


def test_texture_reduction_is_one_minus_the_ratio_of_mean_d_inside_the_before_mask():
    before, after = block_masks()  # the 10x10 block at rows/columns 5..14; the maps are valid-mode (r = 5)
    contrast_before = np.full((30, 30), 0.9)
    contrast_before[0:10, 0:10] = 0.4  # D = 0.6 inside the before-mask ...
    contrast_after = np.full((30, 30), 0.2)  # ... after: D = 0.8 everywhere but in the left half of the block
    contrast_after[0:10, 0:5] = 0.85  # D = 0.15 there
    assert texture_difference(contrast_before, before) == pytest.approx(0.6)
    assert texture_difference(contrast_after, before) == pytest.approx((50 * 0.15 + 50 * 0.8) / 100)
    image = np.full((40, 40, 3), 100.0)
    score = score_finetune('a', before, after, image, image, before_contrast=contrast_before,
                           after_contrast=contrast_after)
    assert (score.texture_before, score.texture_after) == (pytest.approx(0.6), pytest.approx(0.475))
    assert score.texture_reduction == pytest.approx(1 - 0.475 / 0.6)
    assert texture_reduction(0.6, 0.0) == 1 and texture_reduction(0.6, 0.6) == 0 and texture_reduction(0.5, 0.6) < 0
    # no artifact before, or no maps: undefined; a map that does not fit the mask is refused
    empty = np.zeros_like(before)
    empty_score = score_finetune('b', empty, after, image, image, before_contrast=contrast_before,
                                 after_contrast=contrast_after)
    assert math.isnan(empty_score.texture_reduction) and math.isnan(score_finetune('c', before, after, image,
                                                                                   image).texture_reduction)
    with pytest.raises(ValueError, match='does not fit'):
        texture_difference(contrast_before[:, :-2], before)
    # pooled over images by before-mask area (a 100-px image and a 25-px one), and the mean of the per-image values
    small = np.zeros_like(before)
    small[20:25, 20:25] = True
    flat = np.full((30, 30), 0.5)
    small_score = score_finetune('d', small, empty, image, image, before_contrast=flat,
                                 after_contrast=np.ones((30, 30)))
    summary = summarize_finetune([score, empty_score, small_score])
    assert summary['texture_reduction'] == pytest.approx(1 - (100 * 0.475 + 25 * 0.0) / (100 * 0.6 + 25 * 0.5))
    assert summary['mean_texture_reduction'] == pytest.approx((1 - 0.475 / 0.6 + 1) / 2)
    assert FinetuneImageScore.from_dict(score.to_dict()) == score
    old_record = {key: value for key, value in score.to_dict().items() if not key.startswith('texture')}
    assert math.isnan(FinetuneImageScore.from_dict(old_record).texture_reduction)  # a record of an earlier version


def test_test_command_end_to_end(tmp_path):
    lr_root = tmp_path / 'lr'
    write_random_images(str(lr_root), ('kept', 'held/one', 'held/two'))
    (tmp_path / 'splits.yml').write_text('finetune: [kept]\nheldout: [held/one, held/two]\n')
    result, run_root = run_tiny_test_command(tmp_path, {
        'dataroot_lq': str(lr_root), 'meta_info_file': str(tmp_path / 'splits.yml'), 'meta_info_key': 'heldout'})
    assert result.returncode == 0, result.stderr
    with open(run_root / 'finetune_eval.csv', newline='') as f:
        rows = {row['image']: row for row in csv.DictReader(f)}
    assert set(rows) == {'held/one', 'held/two'}
    for name, row in rows.items():
        # the figures are those of the masks and SR results on disk
        before = read_image(str(run_root / 'detect_gan' / 'masks' / f'{name}.png')) > 0
        after = read_image(str(run_root / 'detect_finetuned' / 'masks' / f'{name}.png')) > 0
        assert before.shape == (48, 56)
        results = {role: load_rgb255(str(run_root / f'sr_{role}' / f'{name}.png'))
                   for role in ('mse', 'gan', 'finetuned')}
        expected = score_finetune(name, before, after, results['gan'], results['finetuned'],
                                  before_contrast=contrast_map(results['mse'], results['gan']),
                                  after_contrast=contrast_map(results['mse'], results['finetuned']))
        assert before.any() and expected.psnr_outside < math.inf  # the test means something
        assert not math.isnan(expected.texture_reduction)
        for key, value in expected.to_dict().items():
            if key != 'image':
                assert float(row[key]) == pytest.approx(value, nan_ok=True), key
    with open(run_root / 'finetune_eval.json') as f:
        report = json.load(f)
    assert report['summary']['images'] == 2 and report['failures'] == []
    assert report['summary']['before_pixels'] == sum(int(row['before_pixels']) for row in rows.values())
    assert report['summary']['texture_reduction'] == pytest.approx(1 - sum(
        float(row['before_pixels']) * float(row['texture_after']) for row in rows.values()) / sum(
        float(row['before_pixels']) * float(row['texture_before']) for row in rows.values()))
    assert 'texture-difference reduction' in (run_root / 'index.html').read_text()
    assert os.path.isfile(run_root / 'index.html') and os.path.isfile(run_root / 'sr_mse' / 'held' / 'one.png')
    assert not (run_root / 'sr_gan' / 'kept.png').exists()  # only the held-out images


def test_test_command_names_the_selected_iteration_and_refuses_validation_images(tmp_path):
    lr_root = tmp_path / 'lr'
    write_random_images(str(lr_root), ('seen', 'held'))
    (tmp_path / 'splits.yml').write_text('heldout: [held]\nvalidation: [seen]\n')
    # the record a run with val:select leaves beside its checkpoints (here: beside finetuned.pth)
    record = {'selected': {'iter': 20, 'checkpoint': 'finetuned.pth', 'selected_by': 'validation',
                           'reason': 'iteration 20: removal_rate 0.900 meets every goal'}, 'images': ['seen']}
    (tmp_path / 'selection.json').write_text(json.dumps(record))
    result, _ = run_tiny_test_command(tmp_path, {'dataroot_lq': str(lr_root)})  # every image: "seen" too
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith('error: ')
    assert '1 test image(s) are validation images of the run that selected finetuned.pth' in result.stderr
    assert 'selection.json): seen; evaluate on held-out images' in result.stderr and 'Traceback' not in result.stderr
    assert not (tmp_path / 'results').exists()  # refused before any run folder
    result, run_root = run_tiny_test_command(tmp_path, {'dataroot_lq': str(lr_root),
                                                        'meta_info_file': str(tmp_path / 'splits.yml'),
                                                        'meta_info_key': 'heldout'})
    assert result.returncode == 0, result.stderr
    report = json.loads((run_root / 'finetune_eval.json').read_text())
    assert report['checkpoint']['iter'] == 20 and report['checkpoint']['selected_by'] == 'validation'
    assert 'finetuned.pth: iteration 20, selected by validation (iteration 20: removal_rate 0.900' in result.stderr
