"""Training speed of DeSRAModel against basicsr's SRGANModel, and of DeSRAModel with autocast against fp32.

Both models train the same networks (RRDBNet generator, UNetDiscriminatorSN) on the same random batch with the same
batch size and patch, on one device, with Real-ESRGAN's losses (L1, GAN 0.1, optionally the VGG19 perceptual loss)
and EMA 0.999; DeSRAModel adds its masked L1. Iterations are timed in interleaved rounds (one round of each model
in turn, after warm-up iterations) and the median per model is reported, so that load from other processes hits
both alike.

With ``--amp bf16|fp16`` it also reports DeSRAModel's speed-up over fp32 and whether training with autocast stays
close to fp32: both start from the same weights, train on the same batches for ``--amp_check_iters`` iterations,
and the masked L1 of their generators on a held-out batch is compared (goal: within 2%). The goal of the speed-up
(>= 1.5x) is set for an H100; on the CPU, bf16 is native where the CPU has AMX or AVX512-BF16 (``lscpu``).

``--compare target_outside`` times DeSRAModel with ``train:target_outside: frozen_generator`` (the consistent target:
one more generator forward pass per iteration, without gradients) against the paper's ``pseudo_gt``, in the same
interleaved rounds, instead of the SRGANModel comparison.

``--perceptual`` adds the perceptual loss with a randomly initialised VGG19 (the cost is what matters here; the
548 MB state dict is written to a temporary file, since nothing is downloaded).

Examples::

    python scripts/benchmark_training.py --device cpu --batch 2 --gt_size 64 --iters 4 --rounds 3
    python scripts/benchmark_training.py --device cpu --batch 2 --gt_size 64 --amp bf16 --amp_check_iters 20
    python scripts/benchmark_training.py --device cpu --batch 2 --gt_size 128 --compare target_outside
    python scripts/benchmark_training.py --device cuda --batch 12 --gt_size 256 --perceptual --amp bf16
"""
import argparse
import copy
import os
import statistics
import sys
import tempfile
import time

import torch
import torchvision

import desra  # noqa: F401,I001  (must precede basicsr: compatibility shim, registrations)
from basicsr.archs import vgg_arch
from basicsr.models import build_model
from basicsr.utils import get_root_logger

from desra.losses.masked_loss import MaskedL1Loss


def model_options(args, model_type, amp=False, target_outside='pseudo_gt'):
    """Training options of ``model_type`` (SRGANModel or DeSRAModel) with the benchmark's networks and losses."""
    region = model_type == 'DeSRAModel'
    train = {
        'ema_decay': 0.999,
        'optim_g': {'type': 'Adam', 'lr': 1e-4, 'weight_decay': 0, 'betas': [0.9, 0.99]},
        'optim_d': {'type': 'Adam', 'lr': 1e-4, 'weight_decay': 0, 'betas': [0.9, 0.99]},
        'scheduler': {'type': 'MultiStepLR', 'milestones': [10**6], 'gamma': 0.5},
        'total_iter': 10**6,
        'pixel_opt': {'type': 'L1Loss', 'loss_weight': 1.0, 'reduction': 'mean'},
        'gan_opt': {'type': 'RegionGANLoss' if region else 'GANLoss', 'gan_type': 'vanilla', 'loss_weight': 0.1},
        'net_d_iters': 1,
        'net_d_init_iters': 0,
    }
    if region:
        train.update(masked_pixel_opt={'type': 'MaskedL1Loss', 'loss_weight': 1.0}, amp=amp,
                     target_outside=target_outside)
    if args.perceptual:
        train['perceptual_opt'] = {
            'type': 'RegionPerceptualLoss' if region else 'PerceptualLoss', 'vgg_type': 'vgg19',
            'layer_weights': {'conv1_2': 0.1, 'conv2_2': 0.1, 'conv3_4': 1, 'conv4_4': 1, 'conv5_4': 1},
            'use_input_norm': True, 'perceptual_weight': 1.0, 'style_weight': 0, 'range_norm': False,
            'criterion': 'l1'}
    return {'name': 'benchmark', 'model_type': model_type, 'scale': 4, 'is_train': True, 'dist': False, 'rank': 0,
            'world_size': 1, 'num_gpu': 0 if args.device == 'cpu' else 1,
            'network_g': {'type': 'RRDBNet', 'num_in_ch': 3, 'num_out_ch': 3, 'num_feat': args.num_feat,
                          'num_block': args.num_block, 'num_grow_ch': 32},
            'network_d': {'type': 'UNetDiscriminatorSN', 'num_in_ch': 3, 'num_feat': args.num_feat_d,
                          'skip_connection': True},
            'path': {}, 'train': train}


def make_model(opt):
    """Build a model with the same initial weights whatever its type (seeded)."""
    torch.manual_seed(0)
    return build_model(copy.deepcopy(opt))


def random_batch(args, seed):
    """lq (B, 3, p/4, p/4), gt (B, 3, p, p) in [0, 1] and a mask (B, 1, p, p) covering about a third of the patch."""
    generator = torch.Generator().manual_seed(seed)
    size = args.gt_size
    batch = {'lq': torch.rand(args.batch, 3, size // 4, size // 4, generator=generator),
             'gt': torch.rand(args.batch, 3, size, size, generator=generator),
             'mask': (torch.rand(args.batch, 1, size, size, generator=generator) < 0.33).float()}
    return {key: value.to(args.device) for key, value in batch.items()}


def synchronize(device):
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def timed_round(model, batch, first_iter, iters, device):
    """Run ``iters`` iterations from ``first_iter``; returns iterations per second."""
    synchronize(device)
    start = time.perf_counter()
    for current_iter in range(first_iter, first_iter + iters):
        model.feed_data(batch)
        model.optimize_parameters(current_iter)
    synchronize(device)
    return iters / (time.perf_counter() - start)


def compare_speed(models, batch, args):
    """Median iterations/s of each model over interleaved rounds (after ``--warmup`` iterations each)."""
    speeds = {name: [] for name in models}
    for name, model in models.items():
        timed_round(model, batch, 1, args.warmup, args.device)
    for round_index in range(args.rounds):
        for name, model in models.items():
            speeds[name].append(timed_round(model, batch, 1 + args.warmup + round_index * args.iters, args.iters,
                                            args.device))
    return {name: statistics.median(values) for name, values in speeds.items()}


def masked_l1_after_training(model, args):
    """Train on ``--amp_check_iters`` seeded batches, then the generator's masked L1 on a held-out batch."""
    for current_iter in range(1, args.amp_check_iters + 1):
        model.feed_data(random_batch(args, seed=current_iter))
        model.optimize_parameters(current_iter)
    held_out = random_batch(args, seed=10**6)
    with torch.no_grad():
        return MaskedL1Loss()(model.net_g(held_out['lq']).float(), held_out['gt'], held_out['mask']).item()


class RandomVGG19Weights:
    """Context: a randomly initialised VGG19 state dict in a temporary file, used as basicsr's VGG19 weights."""

    def __enter__(self):
        self.folder = tempfile.TemporaryDirectory()
        path = os.path.join(self.folder.name, 'vgg19-random.pth')
        torch.save(torchvision.models.vgg19(weights=None).state_dict(), path)
        self.default_path, vgg_arch.VGG_PRETRAIN_PATH = vgg_arch.VGG_PRETRAIN_PATH, path
        return self

    def __exit__(self, *exc):
        vgg_arch.VGG_PRETRAIN_PATH = self.default_path
        self.folder.cleanup()


def run(args):
    get_root_logger().setLevel('WARNING')  # the models log their whole networks
    device_name = (torch.cuda.get_device_name() if args.device.startswith('cuda') else
                   f'CPU, {torch.get_num_threads()} threads')
    print(f'Device: {device_name}; torch {torch.__version__}')
    print(f'RRDBNet num_feat {args.num_feat} num_block {args.num_block}, UNetDiscriminatorSN num_feat '
          f'{args.num_feat_d}, batch {args.batch}, gt_size {args.gt_size}, perceptual {args.perceptual}; '
          f'{args.rounds} rounds of {args.iters} iterations after {args.warmup} warm-up')
    batch = random_batch(args, seed=0)
    if args.compare == 'target_outside':
        models = {target: make_model(model_options(args, 'DeSRAModel', target_outside=target))
                  for target in ('pseudo_gt', 'frozen_generator')}
        speeds = compare_speed(models, batch, args)
        ratio = speeds['pseudo_gt'] / speeds['frozen_generator']
        print(f'  target_outside pseudo_gt: {speeds["pseudo_gt"]:.3f} it/s, frozen_generator: '
              f'{speeds["frozen_generator"]:.3f} it/s; time per iteration frozen_generator / pseudo_gt: {ratio:.3f}x')
        return
    models = {name: make_model(model_options(args, name)) for name in ('SRGANModel', 'DeSRAModel')}
    speeds = compare_speed(models, batch, args)
    for name, speed in speeds.items():
        print(f'  {name:>12}: {speed:.3f} it/s')
    print(f'  DeSRAModel / SRGANModel: {speeds["DeSRAModel"] / speeds["SRGANModel"]:.3f}x (goal >= 1.0x)')

    if args.amp:
        amp_models = {'fp32': models['DeSRAModel'],
                      args.amp: make_model(model_options(args, 'DeSRAModel', amp=args.amp))}
        del models
        amp_speeds = compare_speed(amp_models, batch, args)
        print(f'  DeSRAModel {args.amp}: {amp_speeds[args.amp]:.3f} it/s, fp32: {amp_speeds["fp32"]:.3f} it/s, '
              f'speed-up {amp_speeds[args.amp] / amp_speeds["fp32"]:.3f}x (goal >= 1.5x on an H100)')
        losses = {name: masked_l1_after_training(make_model(model_options(args, 'DeSRAModel', amp=amp)), args)
                  for name, amp in (('fp32', False), (args.amp, args.amp))}
        difference = abs(losses[args.amp] - losses['fp32']) / losses['fp32']
        print(f'  masked L1 after {args.amp_check_iters} iterations: fp32 {losses["fp32"]:.5f}, {args.amp} '
              f'{losses[args.amp]:.5f}, relative difference {difference:.2%} (goal <= 2%)')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu', help='cpu or cuda')
    parser.add_argument('--num_feat', type=int, default=64, help='RRDBNet features (RealESRGAN_x4plus: 64)')
    parser.add_argument('--num_block', type=int, default=23, help='RRDBNet blocks (RealESRGAN_x4plus: 23)')
    parser.add_argument('--num_feat_d', type=int, default=64, help='discriminator features (Real-ESRGAN: 64)')
    parser.add_argument('--batch', type=int, default=2, help='batch size')
    parser.add_argument('--gt_size', type=int, default=64, help='HR patch side (a multiple of 32)')
    parser.add_argument('--iters', type=int, default=4, help='timed iterations per round')
    parser.add_argument('--rounds', type=int, default=3, help='interleaved rounds per model')
    parser.add_argument('--warmup', type=int, default=2, help='untimed iterations per model first')
    parser.add_argument('--perceptual', action='store_true', help='add the perceptual loss (random VGG19)')
    parser.add_argument('--compare', choices=['srgan', 'target_outside'], default='srgan',
                        help='DeSRAModel against SRGANModel, or its consistent target against the pseudo-GT')
    parser.add_argument('--amp', choices=['bf16', 'fp16'], help='also time DeSRAModel with this autocast')
    parser.add_argument('--amp_check_iters', type=int, default=100, help='iterations of the amp-vs-fp32 check')
    args = parser.parse_args(argv)
    if args.device.startswith('cuda'):
        torch.backends.cudnn.benchmark = True
    if args.perceptual:
        with RandomVGG19Weights():
            run(args)
    else:
        run(args)
    return 0


if __name__ == '__main__':
    sys.exit(main())
