"""Make the demo images: degraded low-resolution (LR) inputs and their clean 4x references (HR).

The photos come from the data that ships inside the scikit-image wheel (``skimage.data``); nothing is downloaded.
For every demo image a fixed region of a photo is cropped as the HR reference, and the LR input is made from it by a
single-pass real-world degradation:

1. Gaussian blur (optics, defocus), sigma in HR pixels;
2. downscaling by 4 (area, bilinear or bicubic interpolation);
3. Gaussian noise (sensor), colour or luminance-only, sigma on the 0..255 scale;
4. JPEG compression at some quality.

The parameters of each image are drawn from a generator seeded with ``SEED`` and the image's name, so every image is
the same whichever other images are made with it, and a rerun writes byte-identical files.

Outputs (``--output_dir``, default ``datasets/demo``):

* ``lr/<name>.png``: uint8 RGB, (h, w, 3);
* ``hr/<name>.png``: uint8 RGB, (4h, 4w, 3), the clean photo region the LR image was made from;
* ``splits.yml``: the ``finetune:``, ``validation:`` (fine-tuning images the training validates on) and ``heldout:``
  lists of names (written only when all images are made).

Usage::

    python scripts/make_demo_data.py
    python scripts/make_demo_data.py --output_dir /tmp/demo --names grass_top coins
"""
import argparse
import os
import zlib
from dataclasses import dataclass

import cv2
import numpy as np
import skimage.data

from desra.io.images import write_image, write_text

SCALE = 4
SEED = 2023
DEFAULT_OUTPUT_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'datasets', 'demo')
SPLITS = ('finetune', 'heldout')
PNG_PARAMS = [cv2.IMWRITE_PNG_COMPRESSION, 9]
INTERPOLATIONS = {'area': cv2.INTER_AREA, 'bilinear': cv2.INTER_LINEAR, 'bicubic': cv2.INTER_CUBIC}


@dataclass(frozen=True)
class DemoImage:
    """Where a demo image comes from.

    Attributes:
        source (str): Name of the ``skimage.data`` function that returns the photo.
        top, left (int): Top-left corner of the HR region in the photo, pixels.
        height, width (int): Size of the HR region, pixels; multiples of ``SCALE``.
        split (str): One of ``SPLITS``.
    """
    source: str
    top: int
    left: int
    height: int
    width: int
    split: str


DEMO_IMAGES = {
    'grass_top': DemoImage('grass', 0, 0, 256, 512, 'finetune'),
    'gravel_top': DemoImage('gravel', 0, 0, 256, 512, 'finetune'),
    'ihc_top': DemoImage('immunohistochemistry', 0, 0, 256, 512, 'finetune'),
    'coins': DemoImage('coins', 0, 0, 300, 384, 'finetune'),
    'retina_left': DemoImage('retina', 450, 100, 384, 512, 'finetune'),
    'rocket': DemoImage('rocket', 104, 0, 320, 640, 'finetune'),
    'grass_bottom_a': DemoImage('grass', 256, 0, 128, 512, 'heldout'),
    'grass_bottom_b': DemoImage('grass', 384, 0, 128, 512, 'heldout'),
    'gravel_bottom': DemoImage('gravel', 256, 0, 256, 512, 'heldout'),
    'ihc_bottom_a': DemoImage('immunohistochemistry', 256, 0, 128, 512, 'heldout'),
    'ihc_bottom_b': DemoImage('immunohistochemistry', 384, 0, 128, 512, 'heldout'),
    'retina_right': DemoImage('retina', 200, 640, 384, 512, 'heldout'),
    'retina_bottom': DemoImage('retina', 900, 300, 384, 512, 'heldout'),
    'page': DemoImage('page', 0, 0, 188, 384, 'heldout'),
    'hubble_top': DemoImage('hubble_deep_field', 0, 0, 256, 512, 'heldout'),
    'cell_top': DemoImage('cell', 0, 0, 256, 512, 'heldout'),
}
#: The fine-tuning images the training validates on (``validation:`` in ``splits.yml``; desra/train.py selects its
#: checkpoint with them, so they are never held-out images).
VALIDATION = ('grass_top', 'gravel_top', 'ihc_top', 'coins')


@dataclass(frozen=True)
class Degradation:
    """Parameters of the HR -> LR degradation of one image (see the module docstring)."""
    blur_sigma: float  # HR pixels
    interpolation: str  # key of INTERPOLATIONS
    noise_sigma: float  # 0..255 scale
    gray_noise: bool
    jpeg_quality: int  # 0..100


def sample_degradation(name):
    """Draw the degradation of image ``name``.

    Returns:
        tuple[Degradation, np.random.Generator]: The parameters, and the generator (seeded with ``SEED`` and the
        name) that drew them, to draw the noise next.
    """
    rng = np.random.default_rng([SEED, zlib.crc32(name.encode('utf-8'))])
    degradation = Degradation(
        blur_sigma=round(float(rng.uniform(0.5, 1.2)), 2),
        interpolation=str(rng.choice(sorted(INTERPOLATIONS))),
        noise_sigma=round(float(rng.uniform(1.0, 4.0)), 2),
        gray_noise=bool(rng.random() < 0.4),
        jpeg_quality=int(rng.integers(60, 91)),
    )
    return degradation, rng


def load_hr(demo):
    """The HR region of the photo: uint8 RGB, (height, width, 3). Grayscale photos are replicated to 3 channels."""
    photo = getattr(skimage.data, demo.source)()
    if photo.ndim == 2:
        photo = np.repeat(photo[..., None], 3, axis=2)
    region = photo[demo.top:demo.top + demo.height, demo.left:demo.left + demo.width, :3]
    if region.shape[:2] != (demo.height, demo.width) or demo.height % SCALE or demo.width % SCALE:
        raise ValueError(f'{demo}: the region must lie inside the {photo.shape[:2]} photo, sides multiples of {SCALE}')
    return np.ascontiguousarray(region)


def degrade(hr, degradation, rng):
    """Make the LR image from the HR image.

    Args:
        hr (np.ndarray): uint8 RGB, (H, W, 3), H and W multiples of ``SCALE``.
        degradation (Degradation): The parameters.
        rng (np.random.Generator): Draws the noise.

    Returns:
        np.ndarray: uint8 RGB, (H / SCALE, W / SCALE, 3).
    """
    img = hr.astype(np.float32)
    img = cv2.GaussianBlur(img, (0, 0), degradation.blur_sigma, borderType=cv2.BORDER_REFLECT_101)
    height, width = hr.shape[0] // SCALE, hr.shape[1] // SCALE
    img = cv2.resize(img, (width, height), interpolation=INTERPOLATIONS[degradation.interpolation])
    noise_shape = (height, width, 1) if degradation.gray_noise else (height, width, 3)
    img = img + rng.normal(0.0, degradation.noise_sigma, noise_shape).astype(np.float32)
    img = np.clip(np.round(img), 0, 255).astype(np.uint8)
    ok, jpeg = cv2.imencode('.jpg', img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, degradation.jpeg_quality])
    if not ok:
        raise RuntimeError('OpenCV could not encode JPEG')
    return cv2.imdecode(jpeg, cv2.IMREAD_COLOR)[..., ::-1]


def splits_yaml():
    """Text of ``splits.yml``: every name of ``DEMO_IMAGES`` under its split, and ``VALIDATION`` (a part of the
    fine-tuning images) under ``validation:``."""
    lines = ['# Demo image names (datasets/demo/{lr,hr}/<name>.png), written by scripts/make_demo_data.py.',
             '# validation: the fine-tuning images the training validates on (options/demo/finetune.yml).']
    lists = {split: [name for name, demo in DEMO_IMAGES.items() if demo.split == split] for split in SPLITS}
    for split, names in (('finetune', lists['finetune']), ('validation', VALIDATION), ('heldout', lists['heldout'])):
        lines.append(f'{split}:')
        lines += [f'  - {name}' for name in names]
    return '\n'.join(lines) + '\n'


def make_demo_data(output_dir, names):
    """Write ``lr/<name>.png`` and ``hr/<name>.png`` for ``names`` (keys of ``DEMO_IMAGES``) under ``output_dir``,
    and ``splits.yml`` when ``names`` are all the demo images."""
    for name in names:
        hr = load_hr(DEMO_IMAGES[name])
        degradation, rng = sample_degradation(name)
        lr = degrade(hr, degradation, rng)
        write_image(os.path.join(output_dir, 'hr', f'{name}.png'), hr[..., ::-1], PNG_PARAMS)
        write_image(os.path.join(output_dir, 'lr', f'{name}.png'), lr[..., ::-1], PNG_PARAMS)
        print(f'{name}: HR {hr.shape[1]}x{hr.shape[0]}, LR {lr.shape[1]}x{lr.shape[0]}, {degradation}')
    if set(names) == set(DEMO_IMAGES):
        write_text(os.path.join(output_dir, 'splits.yml'), splits_yaml())


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--output_dir', default=DEFAULT_OUTPUT_DIR, help='Folder to write lr/, hr/ and splits.yml')
    parser.add_argument('--names', nargs='+', choices=list(DEMO_IMAGES), default=list(DEMO_IMAGES),
                        help='Make only these images (default: all)')
    return parser.parse_args(argv)


def main(argv=None):
    """Command-line entry point; ``argv`` defaults to ``sys.argv[1:]``."""
    args = parse_args(argv)
    make_demo_data(args.output_dir, args.names)


if __name__ == '__main__':
    main()
