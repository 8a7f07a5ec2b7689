"""Detect GAN-inference artifacts (DeSRA Stage 1): ``python desra/detect.py -opt options/detect.yml``.

Compares the MSE-SR and GAN-SR result of each image (two folders, or made from LR images by ``network_mse`` and
``network_gan``) and writes masks, contrast maps, overlays, ``summary.csv`` and a visual ``index.html`` under
``<path.results_root>/<name>/`` (see :mod:`desra.detection.detect_run`). ``--force_yml key=value`` overrides
options; under torchrun (``--launcher pytorch``) the images are shared among the processes. Bad images are reported and
skipped (exit status 1); a rerun continues where the last one stopped.
"""
import desra  # noqa: F401  (basicsr compatibility and registrations)
from desra.commands import run_main
from desra.config.options import parse_command_options
from desra.detection.detect_run import DetectRun


def main(args=None):
    opt, _ = parse_command_options(__doc__.splitlines()[0], 'detect', args=args)
    return DetectRun(opt).run()


if __name__ == '__main__':
    run_main(main)
