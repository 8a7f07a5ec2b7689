"""IoU, precision and recall of artifact masks, checked on hand-made masks with hand-computed answers."""
import math

import cv2
import numpy as np
import pytest

import desra  # noqa: F401
from desra.io.images import write_image
from desra.metrics import (MaskPairScore, MaskShapeError, count_overlapped_parts, crop_to_valid_region,
                           folder_mask_agreement, format_score, load_mask, mask_iou, score_mask_pair, summarize_scores,
                           to_binary_mask)


def two_part_masks():
    """Predicted parts A (10 px, 60% labelled) and B (10 px, 40% labelled); labelled parts L1, L2, L3.

    L1 (10 px) is 60% covered by A, L2 (12 px) 4/12 covered by B, L3 (9 px) not detected.
    """
    pred = np.zeros((20, 30), bool)
    label = np.zeros((20, 30), bool)
    pred[2:4, 2:7] = True  # A
    pred[10:12, 10:15] = True  # B
    label[2:4, 0:5] = True  # L1: overlaps A in columns 2..4 -> 6 px
    label[10:12, 6:12] = True  # L2: overlaps B in columns 10..11 -> 4 px
    label[15:18, 20:23] = True  # L3
    return pred, label


def test_precision_counts_parts_overlapped_by_at_least_half_their_area():
    pred, label = two_part_masks()
    assert count_overlapped_parts(pred, label, 0.5) == (2, 1)  # A (60%) counts, B (40%) does not
    assert count_overlapped_parts(pred, label, 0.4) == (2, 2)
    # a share equal to the threshold counts
    assert count_overlapped_parts(pred, label, 0.6) == (2, 1)
    assert count_overlapped_parts(pred, label, 0.61) == (2, 0)


def test_recall_counts_labelled_parts_covered_by_at_least_half():
    pred, label = two_part_masks()
    assert count_overlapped_parts(label, pred, 0.5) == (3, 1)  # only L1 (60% covered)


def test_score_of_two_part_example():
    pred, label = two_part_masks()
    score = score_mask_pair(pred, label, border=0, name='x')
    # intersection 6 + 4 = 10; union 20 + 31 - 10 = 41
    assert score == MaskPairScore('x', 10 / 41, 2, 1, 3, 1)


def test_parts_are_8_connected():
    mask = np.zeros((6, 6), bool)
    mask[1, 1] = mask[2, 2] = mask[4, 4] = True  # the first two touch diagonally
    assert count_overlapped_parts(mask, np.zeros_like(mask)) == (2, 0)


def test_iou_of_two_offset_squares():
    pred = np.zeros((20, 20), bool)
    label = np.zeros((20, 20), bool)
    pred[0:10, 0:10] = True
    label[5:15, 5:15] = True
    assert mask_iou(pred, label) == pytest.approx(25 / 175)


def test_both_empty_is_perfect_and_parts_are_zero():
    empty = np.zeros((12, 12), bool)
    assert score_mask_pair(empty, empty, border=1) == MaskPairScore('', 1.0, 0, 0, 0, 0)
    predicted_only = empty.copy()
    predicted_only[3:6, 3:6] = True
    assert score_mask_pair(predicted_only, empty, border=1).iou == 0.0


def test_uint8_masks_are_foreground_from_128():
    mask = np.array([[0, 127, 128, 255]], np.uint8)
    assert to_binary_mask(mask).tolist() == [[False, False, True, True]]
    assert to_binary_mask(np.array([[32767, 32768]], np.uint16)).tolist() == [[False, True]]
    with pytest.raises(ValueError, match='2-D'):
        to_binary_mask(np.zeros((2, 2, 3), np.uint8), 'm.png')
    with pytest.raises(ValueError, match='float'):
        to_binary_mask(np.zeros((2, 2), np.float32), 'm.png')


def test_equal_shapes_crop_both_by_the_border():
    pred = np.zeros((30, 30), bool)
    label = np.zeros((30, 30), bool)
    label[0:4, 10:20] = True  # inside the 5-px border: cropped away
    label[10:20, 10:20] = True
    pred[10:20, 10:20] = True
    pred[26:30, 0:30] = True  # also inside the border
    score = score_mask_pair(pred, label, border=5)
    assert (score.iou, score.detected_parts, score.labelled_parts) == (1.0, 1, 1)
    cropped_pred, cropped_label = crop_to_valid_region(pred, label, 5)
    assert cropped_pred.shape == cropped_label.shape == (20, 20)


def test_valid_size_prediction_crops_only_the_label():
    label = np.zeros((30, 40), bool)
    label[5:10, 5:10] = True  # full-size (5, 5) is valid-size (0, 0)
    pred = np.zeros((20, 30), bool)
    pred[0:5, 0:5] = True
    assert score_mask_pair(pred, label, border=5).iou == 1.0
    shifted = np.zeros((20, 30), bool)
    shifted[5:10, 5:10] = True
    assert score_mask_pair(shifted, label, border=5).iou == 0.0


def test_misfit_shapes_name_both_files_and_shapes():
    with pytest.raises(MaskShapeError, match=r'p\.png \(shape \(25, 25\)\).*g\.png \(shape \(30, 30\)\)'):
        score_mask_pair(np.zeros((25, 25), bool), np.zeros((30, 30), bool), 5, pred_name='p.png', label_name='g.png')
    with pytest.raises(MaskShapeError, match='g.png.*too small'):
        score_mask_pair(np.zeros((8, 8), bool), np.zeros((8, 8), bool), 5, label_name='g.png')


def test_summary_pools_parts_and_averages_iou():
    scores = [MaskPairScore('a', 1.0, 1, 1, 2, 1), MaskPairScore('b', 0.5, 3, 0, 2, 2)]
    summary = summarize_scores(scores)
    assert summary.images == 2
    assert summary.iou == pytest.approx(0.75)
    assert summary.precision == pytest.approx(1 / 4)  # pooled, not the mean of 1/1 and 0/3
    assert summary.recall == pytest.approx(3 / 4)


def test_undefined_scores_are_nan_and_print_as_na():
    summary = summarize_scores([MaskPairScore('a', 1.0, 0, 0, 0, 0)])
    assert math.isnan(summary.precision) and math.isnan(summary.recall)
    assert math.isnan(summarize_scores([]).iou)
    assert format_score(summary.precision) == 'n/a'
    assert format_score(0.123456) == '0.1235'


def test_load_mask_reads_colour_files_as_gray(tmp_path):
    img = np.zeros((4, 5, 3), np.uint8)
    img[1, 2] = 255
    cv2.imwrite(str(tmp_path / 'm.png'), img)
    mask = load_mask(tmp_path / 'm.png')
    assert mask.dtype == bool and mask.shape == (4, 5) and np.argwhere(mask).tolist() == [[1, 2]]


def test_the_agreement_of_two_mask_folders_pools_the_pixels_of_all_images(tmp_path):
    """A twin's masks against a parent's: image a half-overlapping squares (100 px each, 50 shared), image b a
    parent part the twin misses (100 px), image c empty in both."""
    masks = {name: {'twin': np.zeros((40, 40), np.uint8), 'parent': np.zeros((40, 40), np.uint8)} for name in 'abc'}
    masks['a']['parent'][10:20, 10:20] = 255
    masks['a']['twin'][10:20, 15:25] = 255
    masks['b']['parent'][25:35, 25:35] = 255
    for name, pair in masks.items():
        for folder, mask in pair.items():
            write_image(str(tmp_path / folder / f'{name}.png'), mask)
    a = folder_mask_agreement(str(tmp_path / 'twin'), str(tmp_path / 'parent'))
    assert (a.pixels, a.reference_pixels, a.images_with_reference_parts) == (100, 200, 2)
    assert a.pixel_iou == pytest.approx(50 / 250)  # union 150 on a, 100 on b
    assert (a.pixel_precision, a.pixel_recall) == (pytest.approx(0.5), pytest.approx(0.25))
    assert a.scores.images == 3 and a.scores.iou == pytest.approx((50 / 150 + 0 + 1) / 3)
    assert (a.scores.precision, a.scores.recall) == (1.0, 0.5)  # b's part is not found
    only_b = folder_mask_agreement(str(tmp_path / 'twin'), str(tmp_path / 'parent'), names=['b'])
    assert only_b.pixel_iou == 0 and math.isnan(only_b.pixel_precision)
    (tmp_path / 'twin' / 'c.png').unlink()
    with pytest.raises(FileNotFoundError, match=r'twin: no mask of image c'):
        folder_mask_agreement(str(tmp_path / 'twin'), str(tmp_path / 'parent'), names=['a', 'c'])
