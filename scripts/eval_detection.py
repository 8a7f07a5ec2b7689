"""Score predicted artifact masks against human-labelled masks: IoU, precision and recall as in the DeSRA paper.

Masks are paired by relative path without extension, through subfolders (``--pred run/sub/a.png`` pairs with
``--gt labels/sub/a.jpg``). A prediction may be full size (DeSRA's detector, empty border) or smaller by
``2 * border`` (the paper's script); see :mod:`desra.metrics.detection_metrics` for the definitions.

Files with no counterpart are listed and left out. Unreadable masks, masks whose shapes do not fit, and names held
by several files are reported at the end and make the exit status 1; so does finding no pair at all.

Usage::

    python scripts/eval_detection.py --pred results/LDL/masks --gt DeSRA-dataset/LDL/GT-Mask
    python scripts/eval_detection.py --pred P --gt G --per_image --csv scores.csv
"""
import argparse
import csv
import io
import sys
from os import path as osp

from desra.io.images import write_text
from desra.io.names import index_folder
from desra.metrics import DEFAULT_BORDER, DEFAULT_OVERLAP, format_score, load_mask, score_mask_pair, summarize_scores

CSV_FIELDS = ('image', 'iou', 'detected_parts', 'true_detected_parts', 'labelled_parts', 'found_labelled_parts')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--pred', required=True, help='folder of predicted masks (searched recursively)')
    parser.add_argument('--gt', required=True, help='folder of human-labelled masks (searched recursively)')
    parser.add_argument('--border', type=int, default=DEFAULT_BORDER,
                        help=f'pixels cropped from each side of the labelled mask (default {DEFAULT_BORDER})')
    parser.add_argument('--overlap', type=float, default=DEFAULT_OVERLAP,
                        help=f'share of a part\'s area that must be overlapped to count (default {DEFAULT_OVERLAP})')
    parser.add_argument('--per_image', action='store_true', help='also print each image\'s scores')
    parser.add_argument('--csv', help='write per-image scores to this CSV file')
    return parser.parse_args(argv)


def pair_mask_files(pred_root, gt_root):
    """Pair predicted and labelled masks by name (relative path without extension).

    Returns:
        tuple: (pairs, unmatched, problems): ``[(name, pred_path, gt_path)]`` sorted by name; lines naming files
        without a counterpart; lines naming names held by several files in one folder.
    """
    preds, pred_failures = index_folder(pred_root, 'predicted masks')
    labels, gt_failures = index_folder(gt_root, 'labelled masks')
    ambiguous = {failure.name for failure in pred_failures + gt_failures}
    pairs = [(name, preds[name], labels[name]) for name in sorted(preds.keys() & labels.keys())]
    unmatched = [f'no labelled mask for prediction {preds[name]}'
                 for name in sorted(preds.keys() - labels.keys() - ambiguous)]
    unmatched += [f'no prediction for labelled mask {labels[name]}'
                  for name in sorted(labels.keys() - preds.keys() - ambiguous)]
    return pairs, unmatched, [failure.message for failure in pred_failures + gt_failures]


def scores_csv(scores):
    """Per-image scores as CSV text, one row per image, columns :data:`CSV_FIELDS`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator='\n')
    writer.writerow(CSV_FIELDS)
    for s in scores:
        writer.writerow([s.name, f'{s.iou:.6f}', s.detected_parts, s.true_detected_parts, s.labelled_parts,
                         s.found_labelled_parts])
    return buffer.getvalue()


def main(argv=None):
    args = parse_args(argv)
    for root in (args.pred, args.gt):
        if not osp.isdir(root):
            print(f'error: {root}: no such folder', file=sys.stderr)
            return 1
    pairs, unmatched, problems = pair_mask_files(args.pred, args.gt)
    for line in unmatched:
        print(f'warning: {line}', file=sys.stderr)

    scores = []
    for name, pred_path, gt_path in pairs:
        try:
            scores.append(score_mask_pair(load_mask(pred_path), load_mask(gt_path), args.border, args.overlap,
                                          name=name, pred_name=pred_path, label_name=gt_path))
        except ValueError as error:  # ImageReadError and MaskShapeError are ValueErrors naming the files
            problems.append(str(error))

    if args.per_image:
        for s in scores:
            print(f'{s.name}  IoU {s.iou:.4f}  detected {s.true_detected_parts}/{s.detected_parts}  '
                  f'labelled {s.found_labelled_parts}/{s.labelled_parts}')
    if scores:
        summary = summarize_scores(scores)
        print(f'images     {summary.images}')
        print(f'IoU        {format_score(summary.iou)}')
        print(f'precision  {format_score(summary.precision)}  '
              f'({summary.true_detected_parts}/{summary.detected_parts} detected parts are artifacts)')
        print(f'recall     {format_score(summary.recall)}  '
              f'({summary.found_labelled_parts}/{summary.labelled_parts} labelled parts are found)')
    if args.csv:
        write_text(args.csv, scores_csv(scores))

    if problems:
        print(f'{len(problems)} problem(s):', file=sys.stderr)
        for line in problems:
            print(f'  {line}', file=sys.stderr)
    if not scores:
        print(f'error: no prediction in {args.pred} could be scored against a labelled mask in {args.gt}',
              file=sys.stderr)
    return 1 if problems or not scores else 0


if __name__ == '__main__':
    sys.exit(main())
