"""SR inference over images, with options (``-opt``) or with Real-ESRGAN's flags.

``python desra/infer.py -opt options/infer.yml [--force_yml key=value ...]``: LR images from
``datasets.test.dataroot_lq`` are super-resolved by ``network_g`` (weights ``path.pretrain_network_g``) into
``<path.results_root>/<name>/``, named as the inputs.

``python desra/infer.py -i inputs -o results --model_path model.pth [-s 3.5] [--suffix out] [--tile 400] [--fp32]``:
Real-ESRGAN's ``inference_realesrgan.py`` flags; the architecture and scale are detected in the checkpoint
(spandrel, ``type: auto``), outputs are ``<o>/<stem>_<suffix>.<ext>``, fp16 on CUDA unless ``--fp32``.

Either way unreadable files are reported and skipped (too large, truncated, out of memory...); the exit status is
then 1 (2 for bad options or an empty input folder, see :mod:`desra.commands`); a rerun skips finished images
(and redoes those that other weights or settings made: ``.made_with.jsonl`` in the output folder, see
:class:`desra.io.records.OutputRecords`), removes the temporary files a killed run left, and no output may
overwrite an input.
"""
import argparse
import os
import sys

import torch

import desra  # noqa: F401  (basicsr compatibility and registrations)
from desra.commands import run_main
from desra.config.layout import resolve_device
from desra.config.options import parse_command_options
from desra.inference import build_upsampler, upscale_folder
from desra.inference.sr_network import network_made_with
from desra.io.images import list_images, remove_stale_temp_files
from desra.io.names import output_name
from desra.io.paths import is_within, not_found
from desra.weights.hub import resolve_weights


def build_flag_parser():
    """Real-ESRGAN's command line (``inference_realesrgan.py``), for a checkpoint whose architecture is detected."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog='With an option file instead: desra/infer.py -opt OPT [--force_yml key=value ...] '
               '[--root DIR] (e.g. -opt options/infer.yml)')
    parser.add_argument('-i', '--input', default='inputs', help='Input image or folder (searched recursively).')
    parser.add_argument('-o', '--output', default='results', help='Output folder.')
    parser.add_argument('--model_path', required=True,
                        help='SR checkpoint (.pth or .safetensors) of any architecture spandrel detects.')
    parser.add_argument('-s', '--outscale', type=float, default=None,
                        help='Final scale; the SR result is resized with Lanczos (default: the model\'s scale).')
    parser.add_argument('--suffix', default='out', help='Suffix of the output names: <stem>_<suffix>.<ext>.')
    parser.add_argument('-t', '--tile', type=int, default=0, help='Tile size in input pixels; 0: no tiles.')
    parser.add_argument('--tile_pad', type=int, default=10, help='Context pixels around each tile.')
    parser.add_argument('--pre_pad', type=int, default=0, help='Reflection padding at the bottom and right.')
    parser.add_argument('--fp32', action='store_true', help='Run in fp32 (default: fp16 on CUDA).')
    parser.add_argument('--alpha_upsampler', choices=['model', 'linear'], default='model',
                        help='Alpha channel: run the model on it, or resize it bilinearly.')
    parser.add_argument('--overwrite', action='store_true', help='Redo outputs that exist.')
    return parser


def find_inputs(path):
    """``(input_root, rel_paths)`` for an image file or a folder (every file under it, recursively).

    Raises:
        FileNotFoundError: ``path`` does not exist.
    """
    if os.path.isfile(path):
        return os.path.dirname(path) or '.', [os.path.basename(path)]
    if os.path.isdir(path):
        return path, list_images(path, extensions=None)
    raise FileNotFoundError(f'{path}: no such image file or folder (-i)')


def check_flag_outputs_apart(input_path, input_root, rel_paths, output_root, suffix):
    """Refuse an output folder inside an input folder (outputs would be inputs of the next run) and any output
    that would overwrite its input.

    Raises:
        ValueError: The message names the input and what to change.
    """
    if os.path.isdir(input_path) and is_within(output_root, input_path):
        raise ValueError(f'-o {output_root} is inside the input folder {input_path}; choose an output folder '
                         'outside it')
    for rel_path in rel_paths:
        input_file = os.path.realpath(os.path.join(input_root, rel_path))
        if any(os.path.realpath(os.path.join(output_root, output_name(rel_path, has_alpha, suffix))) == input_file
               for has_alpha in (False, True)):
            raise ValueError(f'{os.path.join(input_root, rel_path)}: its output would overwrite it; choose another '
                             '-o or --suffix')


def run_with_flags(args):
    """The Real-ESRGAN-style run; returns the exit status."""
    flags = build_flag_parser().parse_args(args)
    model_path = resolve_weights(flags.model_path)  # a Hugging Face hub id: its file in the cache
    if not os.path.isfile(model_path):
        raise FileNotFoundError(f'{flags.model_path}: {not_found(model_path)} (--model_path: a checkpoint file)')
    if flags.outscale is not None and flags.outscale <= 0:
        raise ValueError(f'-s/--outscale must be > 0, got {flags.outscale}')
    input_root, rel_paths = find_inputs(flags.input)
    check_flag_outputs_apart(flags.input, input_root, rel_paths, flags.output, flags.suffix)
    device = torch.device('cuda') if torch.cuda.is_available() else torch.device('cpu')
    remove_stale_temp_files(flags.output)
    opt = {'network_g': {'type': 'auto'}, 'path': {'pretrain_network_g': model_path},
           'tile': {'tile_size': flags.tile, 'tile_pad': flags.tile_pad, 'pre_pad': flags.pre_pad,
                    'half': not flags.fp32}}
    upsampler = build_upsampler(opt, 'g', device)
    report = upscale_folder(upsampler, input_root, flags.output, rel_paths, overwrite=flags.overwrite,
                            alpha_upsampler=flags.alpha_upsampler, suffix=flags.suffix, outscale=flags.outscale,
                            made_with=dict(network_made_with(opt, 'g', upsampler.half), outscale=flags.outscale,
                                           alpha_upsampler=flags.alpha_upsampler))
    print(report.summary())
    print(f'Results in {flags.output}')
    return 1 if report.failed else 0


def main(args=None):
    args = sys.argv[1:] if args is None else list(args)
    if '-opt' not in args:
        return run_with_flags(args)
    opt, _ = parse_command_options(__doc__.splitlines()[0], 'infer', args=args)
    if opt['dist']:  # every process would write every output of the one folder
        raise ValueError('desra/infer.py runs in one process: start it without torchrun and --launcher')
    remove_stale_temp_files(opt['path']['run_root'])
    upsampler = build_upsampler(opt, 'g', resolve_device(opt))
    alpha_upsampler = opt.get('alpha_upsampler', 'model')
    made_with = dict(network_made_with(opt, 'g', upsampler.half), alpha_upsampler=alpha_upsampler)
    report = upscale_folder(upsampler, opt['datasets']['test']['dataroot_lq'], opt['path']['run_root'],
                            overwrite=opt.get('overwrite', False), alpha_upsampler=alpha_upsampler, made_with=made_with)
    print(report.summary())
    print(f'Results in {opt["path"]["run_root"]}')
    return 1 if report.failed else 0


if __name__ == '__main__':
    run_main(main)
