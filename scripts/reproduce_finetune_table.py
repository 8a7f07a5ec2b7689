"""Reproduce DeSRA's fine-tuning evaluation: the released GAN-DeSRA models against the original GAN models.

For each SR model (Real-ESRGAN, LDL, SwinIR) the test command (``desra/test.py``, :mod:`desra.evaluation`) runs on
the LR images of its subset of the DeSRA artifact dataset with the original GAN model, the released GAN-DeSRA
checkpoint and the MSE model, detects the artifacts of both GAN results with the paper's Stage 1 settings and reports
artifact area and parts before / after fine-tuning, removal and addition rates, PSNR / SSIM outside the artifacts, and
the realism of the fine-tuned results (mean NIQE of the original, MSE and fine-tuned results, mean and lowest detail
retention outside the artifacts, and the collapse verdict over the images). The authors fine-tuned each model with
Real-ESRGAN's training settings for 5000 iterations (the effect is visible by 1000; the release holds three
checkpoints per model, pick one with ``--weights``).

Expected files (names are options)::

    <data_root>/<sr_model>/LR/**/<name>.png            the dataset's LR images
    <weights_root>/<sr_model>_MSE.pth                 the MSE model       (DeSRA release, "MSE and GAN models")
    <weights_root>/<sr_model>_GAN.pth                 the original model  (DeSRA release, "MSE and GAN models")
    <weights_root>/<sr_model>_DeSRA.pth               the fine-tuned model (DeSRA release, "GAN-DeSRA models")

Real-ESRGAN and LDL are RRDBNet x4 (64 features, 23 blocks); SwinIR is the real-world SwinIR-M x4 ("nearest+conv"
upsampler). Each model's run goes to ``<results_root>/reproduce_finetune_<sr_model>/`` (its option file, report
and ``finetune_eval.json``), reruns continue where they stopped, and a table with one row per model is printed.
Missing files are listed with where to download them; exit status 2 when no model can run, 1 when some could not
or some images failed.

Usage::

    python scripts/reproduce_finetune_table.py --data_root datasets/DeSRA_artifact_dataset
    python scripts/reproduce_finetune_table.py --sr_models RealESRGAN --weights RealESRGAN:finetuned=net_g_1000.pth \\
        --segmenter_type segformer --segformer_path experiments/pretrained_models/segformer_mit-b5_640x640.pth
"""
import argparse
import json
import math
import os
import subprocess
import sys
from os import path as osp

import yaml

import desra  # noqa: F401
from desra.config.preflight import DATASET_LINKS, DESRA_MODEL_SOURCES
from desra.detection import DEFAULT_DETECTOR_OPT

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
WEIGHT_SUFFIXES = {'mse': 'MSE', 'gan': 'GAN', 'finetuned': 'DeSRA'}
RRDBNET_X4 = {'type': 'RRDBNet', 'num_in_ch': 3, 'num_out_ch': 3, 'num_feat': 64, 'num_block': 23, 'num_grow_ch': 32,
              'scale': 4}
SWINIR_M_X4 = {'type': 'SwinIR', 'upscale': 4, 'in_chans': 3, 'img_size': 64, 'window_size': 8, 'img_range': 1.0,
               'depths': [6] * 6, 'embed_dim': 180, 'num_heads': [6] * 6, 'mlp_ratio': 2, 'upsampler': 'nearest+conv',
               'resi_connection': '1conv'}
#: The network of each SR model (the MSE, original and fine-tuned models share it).
SR_MODELS = {'RealESRGAN': RRDBNET_X4, 'LDL': RRDBNET_X4, 'SwinIR': SWINIR_M_X4}
TABLE_COLUMNS = ('sr_model', 'images', 'before_pixels', 'after_pixels', 'before_parts', 'after_parts', 'removal_rate',
                 'addition_rate', 'mean_psnr_outside', 'mean_ssim_outside', 'mean_niqe_gan', 'mean_niqe_mse',
                 'mean_niqe_finetuned', 'mean_detail_retention', 'min_detail_retention', 'realism')
#: Columns printed with 2 decimals (dB, NIQE); other floats get 4.
TWO_DECIMALS = ('mean_psnr_outside', 'mean_niqe_gan', 'mean_niqe_mse', 'mean_niqe_finetuned')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--data_root', default='datasets/DeSRA_artifact_dataset', help='root of the DeSRA dataset')
    parser.add_argument('--sr_models', nargs='+', default=list(SR_MODELS), choices=list(SR_MODELS))
    parser.add_argument('--lr_dir', default='LR', help='LR folder name in a subset (default LR)')
    parser.add_argument('--weights_root', default='experiments/pretrained_models/DeSRA',
                        help='folder of <sr_model>_{MSE,GAN,DeSRA}.pth')
    parser.add_argument('--weights', nargs='+', default=[], metavar='MODEL:ROLE=PATH',
                        help='other weight files, e.g. LDL:finetuned=LDL_DeSRA_1000.pth (roles: mse, gan, finetuned)')
    parser.add_argument('--segmenter_type', choices=('none', 'segformer'), default='none',
                        help='semantic adjustment of the detector (default none; the paper uses segformer)')
    parser.add_argument('--segformer_path', default=DEFAULT_DETECTOR_OPT['segmenter']['model_path'],
                        help='SegFormer weights: local hub id or folder, or the DeSRA release .pth')
    parser.add_argument('--min_area', type=int, default=DEFAULT_DETECTOR_OPT['min_area'])
    parser.add_argument('--num_gpu', default='auto', help='auto (default), 0 for the CPU, or a count')
    parser.add_argument('--tile_size', type=int, default=0, help='input pixels per tile (0: whole images)')
    parser.add_argument('--results_root', default=osp.join(REPO_ROOT, 'results'))
    return parser.parse_args(argv)


def weight_paths(args):
    """``{sr_model: {role: path}}`` from ``--weights_root`` and the ``--weights`` overrides.

    Raises:
        ValueError: A ``--weights`` entry is not ``MODEL:ROLE=PATH`` with a known model and role.
    """
    paths = {model: {role: osp.join(args.weights_root, f'{model}_{suffix}.pth')
                     for role, suffix in WEIGHT_SUFFIXES.items()} for model in SR_MODELS}
    for entry in args.weights:
        key, sep, path = entry.partition('=')
        model, _, role = key.partition(':')
        if not sep or model not in SR_MODELS or role not in WEIGHT_SUFFIXES:
            raise ValueError(f'--weights entry "{entry}": expected MODEL:ROLE=PATH with MODEL in '
                             f'{", ".join(SR_MODELS)} and ROLE in {", ".join(WEIGHT_SUFFIXES)}')
        paths[model][role] = path
    return paths


def missing_inputs(args, sr_model, weights):
    """What is missing to evaluate ``sr_model``: one line per missing folder or file, saying where to get it."""
    lines = []
    lr_root = osp.join(args.data_root, sr_model, args.lr_dir)
    if not osp.isdir(lr_root):
        lines.append(f'{lr_root}: no such folder: the DeSRA dataset\'s LR images ({"; ".join(DATASET_LINKS)})')
    for role, path in weights.items():
        if not osp.isfile(path):
            lines.append(f'{path}: no such file: the {role} model ({DESRA_MODEL_SOURCES[role]})')
    return lines


def run_options(args, sr_model, weights):
    """The options of ``desra/test.py`` for one SR model."""
    segmenter = {'type': 'none'}
    if args.segmenter_type == 'segformer':
        segmenter = dict(DEFAULT_DETECTOR_OPT['segmenter'], model_path=args.segformer_path)
    network = SR_MODELS[sr_model]
    return {
        'name': f'reproduce_finetune_{sr_model}', 'num_gpu': args.num_gpu, 'manual_seed': 0, 'scale': 4,
        'datasets': {'test': {'dataroot_lq': osp.join(args.data_root, sr_model, args.lr_dir)}},
        'network_gan': network, 'network_finetuned': network, 'network_mse': network,
        'path': {'results_root': args.results_root, **{f'pretrain_network_{role}': path for role, path in
                                                       weights.items()}},
        'tile': {'tile_size': args.tile_size, 'tile_pad': 10, 'pre_pad': 0, 'half': False},
        'detector': dict(DEFAULT_DETECTOR_OPT, min_area=args.min_area, segmenter=segmenter),
    }


def evaluate(args, sr_model, weights):
    """Run ``desra/test.py`` for one SR model; return (exit status, summary dict or None)."""
    opt = run_options(args, sr_model, weights)
    run_root = osp.join(args.results_root, opt['name'])
    os.makedirs(run_root, exist_ok=True)
    opt_path = osp.join(run_root, 'options.yml')
    with open(opt_path, 'w', encoding='utf-8') as f:
        yaml.safe_dump(opt, f, sort_keys=False)
    status = subprocess.run([sys.executable, osp.join(REPO_ROOT, 'desra', 'test.py'), '-opt', opt_path]).returncode
    summary_path = osp.join(run_root, 'finetune_eval.json')
    summary = None
    if osp.isfile(summary_path):
        with open(summary_path, encoding='utf-8') as f:
            summary = json.load(f)['summary']
    return status, summary


def format_table(rows):
    """Whitespace-aligned text table of ``TABLE_COLUMNS``; PSNR and NIQE with 2 decimals, other floats with 4."""

    def cell(key, value):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return 'n/a'
        if key in TWO_DECIMALS:
            return f'{value:.2f}'
        return f'{value:.4f}' if isinstance(value, float) else str(value)

    lines = [TABLE_COLUMNS] + [tuple(cell(key, row.get(key)) for key in TABLE_COLUMNS) for row in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(TABLE_COLUMNS))]
    return '\n'.join('  '.join(text.ljust(width) for text, width in zip(line, widths)).rstrip() for line in lines)


def main(argv=None):
    args = parse_args(argv)
    try:
        weights = weight_paths(args)
    except ValueError as error:
        print(f'error: {error}', file=sys.stderr)
        return 2
    problems, rows, missing_any = [], [], False
    for sr_model in args.sr_models:
        missing = missing_inputs(args, sr_model, weights[sr_model])
        if missing:
            missing_any = True
            problems.append(f'{sr_model}: not evaluated, missing:\n' + '\n'.join(f'    {line}' for line in missing))
            continue
        status, summary = evaluate(args, sr_model, weights[sr_model])
        if status != 0:
            problems.append(f'{sr_model}: desra/test.py exited with status {status} (see its log in '
                            f'{osp.join(args.results_root, f"reproduce_finetune_{sr_model}")})')
        if summary is not None:
            rows.append(dict(summary, sr_model=sr_model))
    if rows:
        print(f'Fine-tuning evaluation on {args.data_root} (segmenter {args.segmenter_type}, min_area '
              f'{args.min_area}); rates pooled over images; PSNR / SSIM outside both masks, NIQE and detail '
              'retention (fine-tuned / original, outside both masks) averaged over images')
        print(format_table(rows))
    if problems:
        print(f'{len(problems)} problem(s):', file=sys.stderr)
        for line in problems:
            print(f'  {line}', file=sys.stderr)
    if missing_any:
        print('Save the downloaded weights as <weights_root>/<sr_model>_{MSE,GAN,DeSRA}.pth or name them with '
              '--weights MODEL:ROLE=PATH; unpack the dataset under --data_root.', file=sys.stderr)
    if not rows:
        return 2
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
