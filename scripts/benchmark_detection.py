"""Time DeSRA's detection against the straightforward float64 evaluation of the DeSRA release, on 1920x1080 images.

    python scripts/benchmark_detection.py [--repeats 5]
    python scripts/benchmark_detection.py --device cuda --segformer nvidia/segformer-b5-finetuned-ade-640-640
    python scripts/benchmark_detection.py --device cuda --segformer random-b5
    python scripts/benchmark_detection.py --mode whole --device cpu --segformer none
    python scripts/benchmark_detection.py --mode whole --device cpu --segformer random-b5 --autocast bf16
    python scripts/benchmark_detection.py --mode lr-pipeline --size 960x540 --images 6 --repeats 2

CPU (default): on two image pairs made from a scikit-image photo resized to 1920x1080 (MSE-SR: the photo; GAN-SR:
the photo with noise, or with noise and high-frequency texture), times, best of ``--repeats`` interleaved runs:

* map: ours (:func:`desra.detection.contrast_map`) vs the release's ``calc_artifact_map``: per channel, four
  ``cv2.filter2D`` with the 11x11 window, cropped to the valid region, float64;
* map + mask: both followed by threshold 0.7, erosion, dilation, hole filling and the area filter; the baseline
  does them as the release does (float64 morphology, ``scipy.ndimage.binary_fill_holes``, a pass over the label
  image per kept part), ours with :func:`desra.detection.clean_mask`;

and prints the ratios, the largest map difference and whether the masks agree. ``--mode whole`` (the default with
``--device cuda``) times the whole detection (SegFormer segmentation + map + mask) of the same pairs with
:class:`desra.detection.ArtifactDetector` on ``--device``, in images/s (goal on an H100: >= 10 at 1920x1080).
``--segformer random-b5`` times a randomly initialised SegFormer of B5's architecture (MiT-B5 encoder, 768-channel
decoder, 150 classes; saved to a temporary folder and loaded as a user's folder is), so the cost of the real model
can be measured where its weights cannot be had: the labels are meaningless, the time is B5's. ``--size`` changes
the image size (``WxH``).

``--mode lr-pipeline`` runs the detect command (:class:`desra.detection.detect_run.DetectRun`) in LR mode on
``--images`` LR images of a quarter of ``--size``, serially (``pipeline: {prefetch: 0, write_queue: 0}``) and
overlapped (a loader thread making the SR results ahead, a writer thread writing the outputs;
:mod:`desra.batch.pipeline`), alternately in fresh folders, and prints the best wall time of each and their ratio.
The SR networks are random RRDBNets of ``--sr-feat`` features and ``--sr-blocks`` blocks (x4), so that the run
measures the pipeline, not one network; with RealESRGAN_x4plus's size (64, 23) the network dominates on a CPU and
the overlap gains less.
"""
import argparse
import contextlib
import os
import tempfile
import time

import cv2
import numpy as np
import skimage.data
import torch
import yaml
from scipy import ndimage
from transformers import SegformerConfig, SegformerForSemanticSegmentation

import desra  # noqa: F401  (basicsr shim)
from basicsr.archs.rrdbnet_arch import RRDBNet
from desra.config.options import parse_command_options
from desra.detection import ArtifactDetector, clean_mask, contrast_map
from desra.detection.detect_run import DetectRun
from desra.io.images import write_image
from desra.weights.checkpoint import save_checkpoint_file

SIZE = (1920, 1080)  # width, height
THRESHOLD, MIN_AREA = 0.7, 4000
#: ``nvidia/segformer-b5-finetuned-ade-640-640``'s architecture (the other settings are transformers' defaults).
SEGFORMER_B5_ARCHITECTURE = {'hidden_sizes': [64, 128, 320, 512], 'depths': [3, 6, 40, 3],
                             'num_attention_heads': [1, 2, 5, 8], 'decoder_hidden_size': 768, 'num_labels': 150}


def benchmark_pairs(size=SIZE, seed=0):
    """Two (name, MSE-SR, GAN-SR) float64 RGB pairs on 0..255, ``size`` = (W, H)."""
    rng = np.random.default_rng(seed)
    photo = cv2.resize(skimage.data.coffee(), size, interpolation=cv2.INTER_CUBIC).astype(np.float64)
    noisy = np.clip(photo + rng.normal(0, 4, photo.shape), 0, 255)
    rows, cols = np.mgrid[:size[1], :size[0]]
    texture = 40.0 * np.sin(2.1 * cols) * np.sin(1.7 * rows) * (np.sin(cols / 150.0) * np.sin(rows / 110.0) > 0.3)
    textured = np.clip(noisy + texture[..., None], 0, 255)
    return [('coffee + noise', photo, noisy), ('coffee + noise + texture', photo, textured)]


def release_contrast_map(mse, gan, window_size=11):
    """The DeSRA release's map: per channel, four 11x11 ``cv2.filter2D`` in float64, valid region."""
    kernel = cv2.getGaussianKernel(window_size, 1.5)
    window = np.outer(kernel, kernel.transpose())
    constant = (0.03 * 255)**2
    r = window_size // 2
    valid = (slice(r, -r), slice(r, -r))
    maps = []
    for channel in range(3):
        x, y = mse[..., channel], gan[..., channel]
        mean_x, mean_y = cv2.filter2D(x, -1, window)[valid], cv2.filter2D(y, -1, window)[valid]
        var_x = cv2.filter2D(x**2, -1, window)[valid] - mean_x**2
        var_y = cv2.filter2D(y**2, -1, window)[valid] - mean_y**2
        maps.append((2 * (var_x + 1e-8)**0.5 * (var_y + 1e-8)**0.5 + constant) / (var_x + var_y + constant))
    return np.mean(maps, axis=0)


def release_mask(contrast):
    """The DeSRA release's mask steps: float64 morphology, scipy hole filling, one pass per kept part."""
    binary = (contrast < THRESHOLD).astype(np.float64)
    kernel = np.ones((5, 5), np.uint8)
    dilated = cv2.dilate(cv2.erode(binary, kernel, iterations=1), kernel, iterations=3)
    filled = ndimage.binary_fill_holes(dilated, structure=np.ones((3, 3))).astype(np.uint8)
    num_labels, labels, stats, _ = cv2.connectedComponentsWithStats(filled, connectivity=8)
    mask = np.zeros(labels.shape, dtype=bool)
    for i in range(1, num_labels):
        if stats[i, cv2.CC_STAT_AREA] > MIN_AREA:
            mask[labels == i] = True
    return mask


def best_times(functions, repeats):
    """Best wall time (s) of each function over ``repeats`` interleaved rounds, and its last result."""
    best, results = {name: float('inf') for name in functions}, {}
    for _ in range(repeats):
        for name, function in functions.items():
            start = time.perf_counter()
            results[name] = function()
            best[name] = min(best[name], time.perf_counter() - start)
    return best, results


def run_against_release(size, repeats):
    """Map and map + mask, ours against the release's code, on the CPU (module docstring)."""
    print(f'CPU, {size[0]}x{size[1]}, best of {repeats}; OpenCV threads {cv2.getNumThreads()}, '
          f'torch threads {torch.get_num_threads()}')
    for name, mse, gan in benchmark_pairs(size):
        functions = {
            'release map': lambda: release_contrast_map(mse, gan),
            'ours map': lambda: contrast_map(mse, gan),
            'release map+mask': lambda: release_mask(release_contrast_map(mse, gan)),
            'ours map+mask': lambda: clean_mask(contrast_map(mse, gan) < THRESHOLD, min_area=MIN_AREA),
        }
        best, results = best_times(functions, repeats)
        reference = results['release map']
        ambiguous = np.abs(reference - THRESHOLD) < 1e-4
        differing = results['release map+mask'] != results['ours map+mask']
        print(f'\n{name}: artifact pixels {results["ours map+mask"].mean():.1%}, '
              f'max |map - release map| = {np.abs(results["ours map"] - reference).max():.2e}, '
              f'masks differ at {differing.sum()} px ({ambiguous.sum()} px within 1e-4 of the threshold)')
        for step in ('map', 'map+mask'):
            release, ours = best[f'release {step}'], best[f'ours {step}']
            print(f'  {step:9s} release {release * 1e3:7.1f} ms   ours {ours * 1e3:7.1f} ms   x{release / ours:.2f}')


def synchronize(device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


@contextlib.contextmanager
def segmenter_options(segformer, autocast):
    """The detector's ``segmenter`` options for ``--segformer`` (``random-b5``: a random B5 in a temporary folder)."""
    if segformer == 'none':
        yield {'type': 'none'}
    elif segformer == 'random-b5':
        with tempfile.TemporaryDirectory() as folder:
            SegformerForSemanticSegmentation(SegformerConfig(**SEGFORMER_B5_ARCHITECTURE)).save_pretrained(folder)
            yield {'type': 'segformer', 'model_path': folder, 'autocast': autocast}
    else:
        yield {'type': 'segformer', 'model_path': segformer, 'autocast': autocast}


def run_whole_detection(device, segformer, autocast, size, repeats):
    """Images/s of :meth:`ArtifactDetector.detect` (segmentation + map + mask) on ``device``, after one warm-up."""
    with segmenter_options(segformer, autocast) as segmenter_opt:
        detector = ArtifactDetector({'segmenter': segmenter_opt}, device=device)
    pairs = benchmark_pairs(size)
    detector.detect(pairs[0][1], pairs[0][2])  # warm-up: CUDA context, cuDNN autotuning
    synchronize(device)
    start = time.perf_counter()
    for _ in range(repeats):
        for _, mse, gan in pairs:
            result = detector.detect(mse, gan)
    synchronize(device)
    seconds = (time.perf_counter() - start) / (repeats * len(pairs))
    device_name = torch.cuda.get_device_name(device) if device.type == 'cuda' else 'CPU'
    precision = f', autocast {autocast}' if segformer != 'none' else ''
    print(f'{device_name}, {size[0]}x{size[1]}, segmenter {segformer}{precision}: whole detection '
          f'{1 / seconds:.2f} images/s ({seconds * 1e3:.1f} ms per image; last mask {result.mask.mean():.1%} '
          'artifact pixels)')


#: The two ways ``--mode lr-pipeline`` runs the detect command.
PIPELINE_MODES = {'serial': {'prefetch': 0, 'write_queue': 0}, 'overlapped': {'prefetch': 2, 'write_queue': 8}}


def write_lr_job(folder, size, images, sr_feat, sr_blocks):
    """LR images (``size`` / 4, the coffee photo with different noise) and x4 RRDBNet checkpoints for the MSE and GAN
    roles in ``folder``; return the detect options (LR mode, segmenter none)."""
    rng = np.random.default_rng(0)
    photo = cv2.resize(skimage.data.coffee(), (size[0] // 4, size[1] // 4), interpolation=cv2.INTER_AREA)
    for index in range(images):
        noisy = np.clip(photo + rng.normal(0, 3, photo.shape), 0, 255).astype(np.uint8)
        write_image(os.path.join(folder, 'lr', f'{index:03d}.png'), noisy[..., ::-1].copy())
    network = {'type': 'RRDBNet', 'num_in_ch': 3, 'num_out_ch': 3, 'num_feat': sr_feat, 'num_block': sr_blocks,
               'num_grow_ch': max(sr_feat // 2, 1), 'scale': 4}
    paths = {}
    for seed, role in enumerate(('mse', 'gan')):
        torch.manual_seed(seed)
        net = RRDBNet(**{key: value for key, value in network.items() if key != 'type'})
        paths[f'pretrain_network_{role}'] = os.path.join(folder, f'{role}.pth')
        save_checkpoint_file({'params': net.state_dict()}, paths[f'pretrain_network_{role}'])
    return {'name': 'bench', 'num_gpu': 0, 'manual_seed': 0, 'scale': 4,
            'datasets': {'detect': {'dataroot_lq': os.path.join(folder, 'lr')}},
            'network_mse': network, 'network_gan': network, 'path': paths,
            'detector': {'segmenter': {'type': 'none'}}}


def run_lr_pipeline(size, images, repeats, sr_feat, sr_blocks):
    """Serial vs overlapped LR-mode detect runs, alternately, best of ``repeats`` (module docstring)."""
    print(f'LR mode, {images} LR images of {size[0] // 4}x{size[1] // 4} -> {size[0]}x{size[1]}, random x4 RRDBNet '
          f'({sr_feat} features, {sr_blocks} blocks), segmenter none; CPU, {os.cpu_count()} cores, torch threads '
          f'{torch.get_num_threads()}; best of {repeats}')
    best = {mode: float('inf') for mode in PIPELINE_MODES}
    cpu = {}  # CPU seconds (all threads) of the best run
    with tempfile.TemporaryDirectory() as folder:
        option_file = os.path.join(folder, 'detect.yml')
        with open(option_file, 'w') as f:
            yaml.safe_dump(write_lr_job(folder, size, images, sr_feat, sr_blocks), f)
        for repeat in range(repeats):
            for mode, pipeline in PIPELINE_MODES.items():
                force = [f'path:results_root={os.path.join(folder, f"{mode}_{repeat}")}'] + [
                    f'pipeline:{key}={value}' for key, value in pipeline.items()]
                opt, _ = parse_command_options('benchmark', 'detect', args=['-opt', option_file, '--force_yml', *force])
                run = DetectRun(opt)
                start, cpu_start = time.perf_counter(), time.process_time()
                if run.run() != 0:
                    raise RuntimeError(f'the {mode} detect run failed')
                if time.perf_counter() - start < best[mode]:
                    best[mode], cpu[mode] = time.perf_counter() - start, time.process_time() - cpu_start
    for mode, seconds in best.items():
        print(f'  {mode:10s} {seconds:6.2f} s  {images / seconds:5.2f} images/s  (CPU time {cpu[mode]:.1f} s)')
    print(f'  load average over the last 5 minutes: {os.getloadavg()[1]:.1f} (other processes share the cores)')
    print(f'  overlapped / serial throughput: x{best["serial"] / best["overlapped"]:.2f}')
    return best


def parse_size(text):
    """``'1920x1080'`` -> (1920, 1080)."""
    try:
        width, height = (int(value) for value in text.lower().split('x'))
    except ValueError:
        raise argparse.ArgumentTypeError(f'size must look like 1920x1080, got {text!r}') from None
    return width, height


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--device', default='cpu', help='cpu or cuda')
    parser.add_argument('--mode', choices=['release', 'whole', 'lr-pipeline'],
                        help='release: map and mask, ours vs the release (CPU; the default there); whole: the whole '
                             'detection with SegFormer on --device (the default on cuda); lr-pipeline: the detect '
                             'command in LR mode, serial vs overlapped loading / writing (CPU)')
    parser.add_argument('--segformer', default='nvidia/segformer-b5-finetuned-ade-640-640',
                        help='SegFormer weights for --mode whole: folder, cached hub id, mmseg .pth, none, or '
                             'random-b5 (B5 architecture, random weights: its time without its weights)')
    parser.add_argument('--autocast', default='auto', choices=['auto', 'fp16', 'bf16', 'false'],
                        help="the segmenter's autocast for --mode whole (auto: fp16 on CUDA, float32 on the CPU)")
    parser.add_argument('--size', type=parse_size, default=SIZE, help='image size WxH (default 1920x1080)')
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--images', type=int, default=6, help='LR images of --mode lr-pipeline')
    parser.add_argument('--sr-feat', type=int, default=16, help='features of the RRDBNets of --mode lr-pipeline')
    parser.add_argument('--sr-blocks', type=int, default=2, help='RRDB blocks of the RRDBNets of --mode lr-pipeline')
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    mode = args.mode or ('release' if device.type == 'cpu' else 'whole')
    if mode == 'release':
        if device.type != 'cpu':
            parser.error('--mode release compares CPU code; use --device cpu')
        run_against_release(args.size, args.repeats)
    elif mode == 'lr-pipeline':
        if device.type != 'cpu':
            parser.error('--mode lr-pipeline runs on the CPU; use --device cpu')
        run_lr_pipeline(args.size, args.images, args.repeats, args.sr_feat, args.sr_blocks)
    else:
        run_whole_detection(device, args.segformer, args.autocast, args.size, args.repeats)


if __name__ == '__main__':
    main()
