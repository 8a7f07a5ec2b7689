"""SR inference over a folder: ``python desra/infer.py -opt options/infer.yml [--force_yml key=value ...]``.

LR images from ``datasets.test.dataroot_lq`` are super-resolved by ``network_g`` (weights
``path.pretrain_network_g``) into ``<path.results_root>/<name>/``, named as the inputs. Unreadable files are
reported and skipped (too large, truncated, out of memory...); the exit status is then 1 (2 for bad options or an
empty input folder, see :mod:`desra.utils.cli`); a rerun skips finished images and removes the temporary files a
killed run left.
"""
import desra  # noqa: F401  (basicsr compatibility and registrations)
from desra.inference import build_upsampler, upscale_folder
from desra.utils.cli import run_main
from desra.utils.img_io import remove_stale_temp_files
from desra.utils.options import parse_command_options, resolve_device


def main(args=None):
    opt, _ = parse_command_options(__doc__.splitlines()[0], 'infer', args=args)
    remove_stale_temp_files(opt['path']['run_root'])
    upsampler = build_upsampler(opt, 'g', resolve_device(opt))
    report = upscale_folder(upsampler, opt['datasets']['test']['dataroot_lq'], opt['path']['run_root'],
                            overwrite=opt.get('overwrite', False), alpha_upsampler=opt.get('alpha_upsampler', 'model'))
    print(report.summary())
    print(f'Results in {opt["path"]["run_root"]}')
    return 1 if report.failed else 0


if __name__ == '__main__':
    run_main(main)
