"""The demo's MSE model: RealESRGAN_x4plus with its tail retrained under pixel (L1) loss only.

DeSRA compares a GAN model with the MSE model it was fine-tuned from. Offline we have the official RealESRGAN_x4plus
weights (GAN) but not its MSE parent RealESRNet_x4plus, and a 2-core CPU cannot retrain a 16.7M-parameter RRDBNet.
So the demo's MSE model keeps the first RRDB blocks of RealESRGAN_x4plus frozen and retrains its tail (the last
``--tail_blocks`` RRDB blocks, conv_body and the upsampling/reconstruction head) with L1 loss on degraded photos
that are not demo images. The frozen part's features are computed once, so training takes minutes on a CPU.
A pixel-loss model predicts the conditional mean of the HR patch: it keeps the structure and drops the hallucinated
high-frequency texture, which is what DeSRA's MSE-SR is for. ``datasets/demo/README.md`` discusses the choice.

Run once by the developers; its output ``datasets/demo/models/mse_tail_x4plus.pth`` is committed::

    python scripts/make_demo_mse_model.py

``desra-weights`` (``make weights``) composes RealESRGAN_x4plus.pth and the committed tail into
``experiments/pretrained_models/DemoMSE_x4plus.pth`` (``{'params': state_dict}``, basicsr format;
:func:`desra.weights.compose.compose_checkpoint`).
"""
import argparse
import os
import sys

import cv2
import numpy as np
import skimage.data
import torch
import torch.nn.functional as F

import desra  # noqa: F401,I001  (must precede basicsr: compatibility shim)
from basicsr.data.degradations import random_mixed_kernels
from desra.weights.checkpoint import load_network_weights, save_checkpoint_file
from desra.weights.ncnn import PACKAGED_MODELS

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GAN_WEIGHTS = os.path.join(REPO_ROOT, 'experiments', 'pretrained_models', 'RealESRGAN_x4plus.pth')
TAIL_WEIGHTS = os.path.join(REPO_ROOT, 'datasets', 'demo', 'models', 'mse_tail_x4plus.pth')
HEAD_LAYERS = ('conv_body', 'conv_up1', 'conv_up2', 'conv_hr', 'conv_last')
NUM_BLOCKS = 23
SCALE = 4

#: Training photos from the scikit-image wheel, none of them in the demo: (name, HR crop side in pixels).
TRAINING_PHOTOS = (('stereo_motorcycle_left', 480), ('stereo_motorcycle_right', 480), ('brick', 480),
                   ('chelsea', 288), ('coffee', 384), ('astronaut', 480), ('camera', 480), ('moon', 480),
                   ('clock', 288), ('text', 160))


def load_photo(name):
    """A training photo as float32 RGB [0, 1], (H, W, 3)."""
    if name.startswith('stereo_motorcycle'):
        left, right, _ = skimage.data.stereo_motorcycle()
        img = left if name.endswith('left') else right
    else:
        img = getattr(skimage.data, name)()
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    return img[..., :3].astype(np.float32) / 255.0


def degrade(hr, rng):
    """Real-ESRGAN-style first-order degradation of ``hr`` (float32 RGB [0, 1], sides multiples of 4) to x4 LR.

    Random blur kernel (basicsr's mixed kernels), random-interpolation downscaling, Gaussian noise and JPEG.
    """
    np.random.seed(int(rng.integers(2**31)))  # basicsr's kernel sampler draws from numpy's global generator
    kernel = random_mixed_kernels(['iso', 'aniso'], [0.6, 0.4], kernel_size=21, sigma_x_range=(0.2, 2.5),
                                  sigma_y_range=(0.2, 2.5), rotation_range=(-np.pi, np.pi), noise_range=None)
    img = cv2.filter2D(hr, -1, kernel)
    interpolation = [cv2.INTER_AREA, cv2.INTER_LINEAR, cv2.INTER_CUBIC][rng.integers(3)]
    img = cv2.resize(img, (hr.shape[1] // SCALE, hr.shape[0] // SCALE), interpolation=interpolation)
    img = np.clip(img + rng.normal(0, rng.uniform(1, 15) / 255, img.shape).astype(np.float32), 0, 1)
    quality = int(rng.integers(40, 95))
    _, encoded = cv2.imencode('.jpg', (img[..., ::-1] * 255).round().astype(np.uint8),
                              [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(encoded, cv2.IMREAD_COLOR)[..., ::-1].astype(np.float32) / 255.0


def frozen_features(net, lr, first_tail_block):
    """The frozen part's outputs for LR (h, w, 3) float32 [0, 1]: ``conv_first``'s features (kept for RRDBNet's
    long residual) and the features after block ``first_tail_block - 1``, each (1, 64, h, w)."""
    x = torch.from_numpy(np.ascontiguousarray(lr.transpose(2, 0, 1)))[None]
    with torch.inference_mode():
        first = net.conv_first(x)
        return first, net.body[:first_tail_block](first)


def tail_forward(net, first, hidden, first_tail_block):
    """The rest of ``RRDBNet.forward`` (scale 4) from :func:`frozen_features`' outputs."""
    feat = first + net.conv_body(net.body[first_tail_block:](hidden))
    feat = net.lrelu(net.conv_up1(F.interpolate(feat, scale_factor=2, mode='nearest')))
    feat = net.lrelu(net.conv_up2(F.interpolate(feat, scale_factor=2, mode='nearest')))
    return net.conv_last(net.lrelu(net.conv_hr(feat)))


def is_tail_key(key, first_tail_block):
    """Whether a state-dict key belongs to the retrained tail."""
    parts = key.split('.')
    return parts[0] in HEAD_LAYERS or (parts[0] == 'body' and int(parts[1]) >= first_tail_block)


def load_gan_rrdbnet():
    """RealESRGAN_x4plus's RRDBNet with the weights of GAN_WEIGHTS, in eval mode (exits when the file is missing)."""
    if not os.path.isfile(GAN_WEIGHTS):
        sys.exit(f'error: {GAN_WEIGHTS} is missing; run `make weights` first')
    net = PACKAGED_MODELS['RealESRGAN_x4plus'].build_network()
    load_network_weights(net, GAN_WEIGHTS)
    return net.eval()


def train(args):
    """Retrain the tail with L1 on degraded training photos; writes TAIL_WEIGHTS (the tail's params, fp16)."""
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    net = load_gan_rrdbnet()
    first_tail_block = NUM_BLOCKS - args.tail_blocks
    samples = []
    for name, side in TRAINING_PHOTOS:
        photo = load_photo(name)
        side = min(side, photo.shape[0] // SCALE * SCALE, photo.shape[1] // SCALE * SCALE)
        for _ in range(args.variants):
            top = int(rng.integers(photo.shape[0] - side + 1))
            left = int(rng.integers(photo.shape[1] - side + 1))
            hr = photo[top:top + side, left:left + side]
            first, hidden = frozen_features(net, degrade(hr, rng), first_tail_block)
            samples.append((first, hidden, torch.from_numpy(hr.transpose(2, 0, 1).copy())))
        print(f'features of {name}: {args.variants} degraded variants', flush=True)

    params = [p for k, p in net.named_parameters() if is_tail_key(k, first_tail_block)]
    optimizer = torch.optim.Adam(params, lr=args.lr, betas=(0.9, 0.99))
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, args.iters)
    patch = args.lr_patch
    for step in range(1, args.iters + 1):
        firsts, hiddens, hrs = [], [], []
        for index in rng.integers(len(samples), size=args.batch):
            first, hidden, hr = samples[index]
            top = int(rng.integers(first.shape[2] - patch + 1))
            left = int(rng.integers(first.shape[3] - patch + 1))
            firsts.append(first[0, :, top:top + patch, left:left + patch])
            hiddens.append(hidden[0, :, top:top + patch, left:left + patch])
            hrs.append(hr[:, top * SCALE:(top + patch) * SCALE, left * SCALE:(left + patch) * SCALE])
        output = tail_forward(net, torch.stack(firsts), torch.stack(hiddens), first_tail_block)
        loss = F.l1_loss(output, torch.stack(hrs))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        if step % 50 == 0 or step == 1:
            print(f'iter {step:4d}  L1 {loss.item():.4f}', flush=True)

    tail = {k: v.detach().half() for k, v in net.state_dict().items() if is_tail_key(k, first_tail_block)}
    save_checkpoint_file({'params': tail, 'recipe': vars(args)}, TAIL_WEIGHTS)
    print(f'wrote {TAIL_WEIGHTS}')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--tail_blocks', type=int, default=2, help='RRDB blocks retrained, from the end')
    parser.add_argument('--iters', type=int, default=700)
    parser.add_argument('--batch', type=int, default=8)
    parser.add_argument('--lr_patch', type=int, default=24, help='LR patch side, pixels')
    parser.add_argument('--lr', type=float, default=2e-4)
    parser.add_argument('--variants', type=int, default=3, help='degraded versions of each photo')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    train(args)


if __name__ == '__main__':
    main()
