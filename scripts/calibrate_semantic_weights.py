"""Recompute DeSRA's per-class interval table (the semantic weights of Eq. 9) from MSE-SR / GAN-SR pairs.

    python scripts/calibrate_semantic_weights.py --mse_root results/mse --gan_root results/gan \
        --label_root results/labels [--artifact_root datasets/gt_masks] --output intervals.txt

MSE-SR and GAN-SR images are paired by relative path. Label maps are 8-bit images of ADE20K label indices
(0..149) named as the GAN-SR image with a ``.png`` extension; without ``--label_root`` the GAN-SR images are
segmented with SegFormer (``--segformer``: a transformers folder, cached hub id or mmseg ``.pth``). Labelled
artifact masks (same naming, non-zero = artifact) are left out of the statistics. Classes that no image shows keep
the value of ``--base`` (the shipped table by default); the script lists them. Use the result with
``detector: {class_intervals: intervals.txt}``.
"""
import argparse
import os
import sys

import numpy as np

import desra  # noqa: F401  (basicsr shim)
from desra.detection import build_segmenter, calibrate_class_intervals
from desra.detection.segmenter import DEFAULT_SEGFORMER_MODEL
from desra.detection.semantic import DEFAULT_INTERVAL_FILE, write_class_intervals
from desra.io.images import list_images, load_rgb255, read_image


def read_label_map(path):
    """Read a label map (or artifact mask) image as (H, W) integers."""
    labels = read_image(path)
    if labels.ndim != 2:
        raise ValueError(f'{path}: a label map must have one channel, found shape {labels.shape}')
    return labels.astype(np.int64)


def samples(args, segmenter):
    """Yield ``(mse, gan, labels, artifact_mask)`` for every GAN-SR image that has an MSE-SR partner."""
    for name in list_images(args.gan_root):
        mse_path = os.path.join(args.mse_root, name)
        if not os.path.isfile(mse_path):
            print(f'skip {name}: no MSE-SR image {mse_path}')
            continue
        gan = load_rgb255(os.path.join(args.gan_root, name))
        png_name = os.path.splitext(name)[0] + '.png'
        if segmenter is None:
            labels = read_label_map(os.path.join(args.label_root, png_name))
        else:
            labels = segmenter(gan)
        artifact_mask = None
        if args.artifact_root:
            artifact_mask = read_label_map(os.path.join(args.artifact_root, png_name)) != 0
        if labels.shape != gan.shape[:2]:
            raise ValueError(f'{name}: label map {labels.shape} and GAN-SR image {gan.shape[:2]} differ in size')
        yield load_rgb255(mse_path), gan, labels, artifact_mask


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--mse_root', required=True, help='Folder of MSE-SR images.')
    parser.add_argument('--gan_root', required=True, help='Folder of GAN-SR images.')
    parser.add_argument('--label_root', help='Folder of ADE20K label maps of the GAN-SR images (else: SegFormer).')
    parser.add_argument('--segformer', default=DEFAULT_SEGFORMER_MODEL, help='SegFormer weights without labels.')
    parser.add_argument('--artifact_root', help='Folder of labelled artifact masks to leave out.')
    parser.add_argument('--output', required=True, help='Interval table to write.')
    parser.add_argument('--base', default=str(DEFAULT_INTERVAL_FILE), help='Table kept for unseen classes.')
    parser.add_argument('--percentile', type=float, default=85.0, help='Share of pixels an interval covers (%%).')
    parser.add_argument('--device', default='cpu', help='Device of SegFormer (cpu, cuda).')
    args = parser.parse_args(argv)

    segmenter = None
    if args.label_root is None:
        segmenter = build_segmenter({'type': 'segformer', 'model_path': args.segformer}, args.device)
    intervals, unseen = calibrate_class_intervals(samples(args, segmenter), args.percentile, args.base)
    write_class_intervals(args.output, intervals)
    print(f'wrote {args.output}: {len(intervals) - len(unseen)} classes calibrated')
    if unseen:
        print(f'{len(unseen)} classes never seen kept their value from {args.base}: {", ".join(unseen)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
