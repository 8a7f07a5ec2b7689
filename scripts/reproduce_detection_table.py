"""Reproduce the DeSRA paper's artifact-detection table: IoU, precision and recall on the DeSRA artifact dataset.

For each SR model's subset of the dataset (Real-ESRGAN, LDL, SwinIR) every MSE-SR / GAN-SR pair is run through
DeSRA's detector and the two baselines of :mod:`desra.detection.baselines` (LDL-style residual variance, plain
SSIM), and each mask is scored against the human-labelled mask (:mod:`desra.metrics.detection_metrics`). When the
subset holds the authors' own detection masks (``DeSRA-Mask``) they are scored too, as ``released_masks``: a
check of the metrics against the paper that needs no detector.

Expected layout (folder names are options)::

    <data_root>/<sr_model>/MSE-SR/**/<name>.png
    <data_root>/<sr_model>/GAN-SR/**/<name>.png
    <data_root>/<sr_model>/GT-Mask/**/<name>.png
    <data_root>/<sr_model>/DeSRA-Mask/**/<name>.png   (optional)

Images are paired by relative path without extension. The printed table has one whitespace-separated row per
(SR model, detector); ``paper_*`` columns hold the paper's DeSRA figures where known and ``n/a`` otherwise (the
paper's per-model figures could not be looked up when this script was written, so they are all ``n/a``; fill
:data:`PAPER_DESRA_FIGURES` from the paper's table). The detector runs with the paper's settings
(:data:`desra.detection.DEFAULT_DETECTOR_OPT`), SegFormer semantic adjustment included; ``--segmenter_type none``
skips the adjustment when the SegFormer weights are not at hand. The baselines share the detector's cleanup
(morphology, ``--min_area``) and border.

Unreadable images, shape mismatches and missing subsets are reported at the end and make the exit status 1; a
missing dataset or missing SegFormer weights are reported with where to get them, and exit status 2.

Usage::

    python scripts/reproduce_detection_table.py --data_root datasets/DeSRA_artifact_dataset
    python scripts/reproduce_detection_table.py --data_root D --device cuda \\
        --segformer_path experiments/pretrained_models/segformer_mit-b5_640x640_160k_ade20k_20220617_203542-940a6bd8.pth
    python scripts/reproduce_detection_table.py --data_root D --segmenter_type none --detectors desra
"""
import argparse
import sys
from os import path as osp

import desra  # noqa: F401
from desra.config.preflight import DATASET_LINKS
from desra.detection import DEFAULT_DETECTOR_OPT, ArtifactDetector, SegmenterWeightsError
from desra.detection.baselines import LDL_VARIANCE_THRESHOLD, SSIM_THRESHOLD, ldl_artifact_mask, ssim_artifact_mask
from desra.detection.detector import MORPHOLOGY_KEYS
from desra.detection.pairs import collect_items
from desra.io.images import load_rgb255
from desra.io.names import index_folder
from desra.metrics import DEFAULT_BORDER, DEFAULT_OVERLAP, format_score, load_mask, score_mask_pair, summarize_scores

SR_MODELS = ('RealESRGAN', 'LDL', 'SwinIR')
DETECTORS = ('desra', 'ldl_baseline', 'ssim_baseline')
#: The paper's DeSRA (IoU, precision, recall) per SR model; none could be looked up, so every entry prints n/a.
PAPER_DESRA_FIGURES = {}
TABLE_COLUMNS = ('sr_model', 'detector', 'images', 'iou', 'precision', 'recall', 'paper_iou', 'paper_precision',
                 'paper_recall')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--data_root', required=True, help='root of the DeSRA artifact dataset')
    parser.add_argument('--sr_models', nargs='+', default=list(SR_MODELS),
                        help=f'subset folders under data_root (default: {" ".join(SR_MODELS)})')
    parser.add_argument('--detectors', nargs='+', default=list(DETECTORS), choices=DETECTORS,
                        help='detectors to run (default: all)')
    parser.add_argument('--mse_dir', default='MSE-SR', help='MSE-SR folder name in a subset (default MSE-SR)')
    parser.add_argument('--gan_dir', default='GAN-SR', help='GAN-SR folder name in a subset (default GAN-SR)')
    parser.add_argument('--gt_mask_dir', default='GT-Mask', help='labelled-mask folder name (default GT-Mask)')
    parser.add_argument('--released_mask_dir', default='DeSRA-Mask',
                        help='folder of the authors\' masks, scored when present; "" to skip (default DeSRA-Mask)')
    parser.add_argument('--segmenter_type', choices=('none', 'segformer'), default='segformer',
                        help='semantic adjustment of the detector: segformer (the paper\'s, default) or none')
    parser.add_argument('--segformer_path', default=DEFAULT_DETECTOR_OPT['segmenter']['model_path'],
                        help='SegFormer weights: a transformers folder or cached hub id, or the DeSRA release .pth '
                             f'(default {DEFAULT_DETECTOR_OPT["segmenter"]["model_path"]})')
    min_area = DEFAULT_DETECTOR_OPT['min_area']
    parser.add_argument('--min_area', type=int, default=min_area,
                        help=f'parts of this many pixels or fewer are dropped (default {min_area})')
    parser.add_argument('--ldl_threshold', type=float, default=LDL_VARIANCE_THRESHOLD,
                        help=f'LDL baseline variance threshold (default {LDL_VARIANCE_THRESHOLD})')
    parser.add_argument('--ssim_threshold', type=float, default=SSIM_THRESHOLD,
                        help=f'SSIM baseline threshold (default {SSIM_THRESHOLD})')
    parser.add_argument('--border', type=int, default=DEFAULT_BORDER,
                        help=f'pixels cropped from each side before scoring (default {DEFAULT_BORDER})')
    parser.add_argument('--overlap', type=float, default=DEFAULT_OVERLAP,
                        help=f'part overlap share for precision and recall (default {DEFAULT_OVERLAP})')
    parser.add_argument('--device', default='cpu', help='device for the detector (default cpu)')
    return parser.parse_args(argv)


def detector_options(args):
    """The ``detector_opt`` of :class:`desra.detection.ArtifactDetector`: the paper's, with the command line's
    segmenter and ``min_area``."""
    segmenter = {'type': 'none'}
    if args.segmenter_type == 'segformer':
        segmenter = dict(DEFAULT_DETECTOR_OPT['segmenter'], model_path=args.segformer_path)
    return dict(DEFAULT_DETECTOR_OPT, min_area=args.min_area, segmenter=segmenter)


def mask_makers(args):
    """``{detector name: function(mse_rgb255, gan_rgb255) -> (H, W) bool mask}`` for the chosen detectors."""
    opt = detector_options(args)
    cleanup = {key: opt[key] for key in MORPHOLOGY_KEYS}
    border = opt['window_size'] // 2
    makers = {}
    if 'desra' in args.detectors:
        detector = ArtifactDetector(opt, device=args.device)  # SegmenterWeightsError when the weights are absent
        makers['desra'] = lambda mse, gan: detector.detect(mse, gan).mask
    if 'ldl_baseline' in args.detectors:
        makers['ldl_baseline'] = lambda mse, gan: ldl_artifact_mask(mse, gan, args.ldl_threshold, border=border,
                                                                    cleanup=cleanup)
    if 'ssim_baseline' in args.detectors:
        makers['ssim_baseline'] = lambda mse, gan: ssim_artifact_mask(mse, gan, args.ssim_threshold, border=border,
                                                                      cleanup=cleanup)
    return makers


def missing_dataset_message(args):
    """What to download and where to put it, when no subset of the dataset is found."""
    folders = ', '.join((args.mse_dir, args.gan_dir, args.gt_mask_dir))
    links = '\n'.join(f'  {link}' for link in DATASET_LINKS)
    return (f'error: the DeSRA artifact dataset was not found under {args.data_root}: none of '
            f'{", ".join(args.sr_models)} holds the folders {folders}.\n'
            f'Download it (see the README of https://github.com/TencentARC/DeSRA):\n{links}\n'
            f'and unpack it so that {osp.join(args.data_root, args.sr_models[0], args.mse_dir)} exists, or point '
            f'--data_root, --sr_models and the folder options at your copy.')


def evaluate_subset(args, sr_model, makers, problems):
    """Score every detector (and the released masks, when present) on one SR model's subset.

    MSE-SR / GAN-SR pairing problems and unreadable or misfit files are appended to ``problems``; images without a
    labelled mask are listed as warnings and left out, as the paper's scripts leave them out.

    Returns:
        dict[str, list[MaskPairScore]]: per detector name.
    """
    root = osp.join(args.data_root, sr_model)
    items, failures, _ = collect_items(
        {'dataroot_mse': osp.join(root, args.mse_dir), 'dataroot_gan': osp.join(root, args.gan_dir)}, run_root=root)
    labels, label_failures = index_folder(osp.join(root, args.gt_mask_dir), 'GT-Mask')
    problems += [failure.message for failure in failures + label_failures]
    for item in items:
        if item.name not in labels:
            print(f'warning: {item.sr_paths["gan"]} has no labelled mask in {osp.join(root, args.gt_mask_dir)}; '
                  f'left out', file=sys.stderr)
    items = [item for item in items if item.name in labels]

    scores = {name: [] for name in makers}
    for number, item in enumerate(items, 1):
        print(f'[{sr_model} {number}/{len(items)}] {item.name}', file=sys.stderr)
        mse_path, gan_path, label_path = item.sr_paths['mse'], item.sr_paths['gan'], labels[item.name]
        try:
            mse, gan, label = load_rgb255(mse_path), load_rgb255(gan_path), load_mask(label_path)
            if mse.shape != gan.shape:
                raise ValueError(f'{gan_path}: shape {gan.shape[:2]} differs from {mse_path} {mse.shape[:2]}')
            for name, make_mask in makers.items():
                scores[name].append(score_mask_pair(make_mask(mse, gan), label, args.border, args.overlap,
                                                    name=item.name, pred_name=f'{name} mask of {gan_path}',
                                                    label_name=label_path))
        except ValueError as error:  # unreadable files and shape mismatches name their files
            problems.append(str(error))

    released_root = osp.join(root, args.released_mask_dir)
    if args.released_mask_dir and osp.isdir(released_root):
        released, released_failures = index_folder(released_root, 'released DeSRA masks')
        problems += [failure.message for failure in released_failures]
        scores['released_masks'] = []
        for name in sorted(released.keys() & labels.keys()):
            try:
                scores['released_masks'].append(score_mask_pair(
                    load_mask(released[name]), load_mask(labels[name]), args.border, args.overlap, name=name,
                    pred_name=released[name], label_name=labels[name]))
            except ValueError as error:
                problems.append(str(error))
    return scores


def format_table(rows):
    """Left-aligned, whitespace-separated columns; the first row is the header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return '\n'.join('  '.join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows)


def table_rows(results):
    """Table rows (strings) from ``{sr_model: {detector: [MaskPairScore]}}``, header first."""
    rows = [TABLE_COLUMNS]
    for sr_model, by_detector in results.items():
        for detector, scores in by_detector.items():
            summary = summarize_scores(scores)
            paper = PAPER_DESRA_FIGURES.get(sr_model, (None, None, None)) if detector == 'desra' else (None,) * 3
            rows.append((sr_model, detector, str(summary.images), format_score(summary.iou),
                         format_score(summary.precision), format_score(summary.recall),
                         *(format_score(value) for value in paper)))
    return rows


def main(argv=None):
    args = parse_args(argv)
    subset_folders = (args.mse_dir, args.gan_dir, args.gt_mask_dir)
    present = [m for m in args.sr_models
               if all(osp.isdir(osp.join(args.data_root, m, folder)) for folder in subset_folders)]
    if not present:
        print(missing_dataset_message(args), file=sys.stderr)
        return 2
    problems = [f'{osp.join(args.data_root, m)}: missing one of the folders {", ".join(subset_folders)}; skipped'
                for m in args.sr_models if m not in present]

    try:
        makers = mask_makers(args)
    except SegmenterWeightsError as error:
        print(f'error: {error} (here: --segformer_path, or --segmenter_type none)', file=sys.stderr)
        return 2
    results = {sr_model: evaluate_subset(args, sr_model, makers, problems) for sr_model in present}
    print(f'Artifact detection on {args.data_root} (segmenter {args.segmenter_type}, min_area {args.min_area}, '
          f'border {args.border}, overlap {args.overlap})')
    print(format_table(table_rows(results)))
    if problems:
        print(f'{len(problems)} problem(s):', file=sys.stderr)
        for line in problems:
            print(f'  {line}', file=sys.stderr)
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
