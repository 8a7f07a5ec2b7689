"""Evaluate a fine-tuned GAN model with DeSRA's detector: ``python desra/test.py -opt options/test_finetune.yml``.

Runs the original GAN model, the fine-tuned one and the MSE model on held-out LR images, detects artifacts in both
GAN results with the same Stage 1 settings and reports per image and in total: artifact area and parts before and
after, removal and addition rates, PSNR / SSIM between the two results outside the artifacts, and whether the
fine-tuned model is still as realistic as the original: NIQE of the three results, detail retention outside the
artifacts and a collapse verdict (thresholds: ``realism: {niqe_margin, min_retention}``). Results go to
``<path.results_root>/<name>/finetune_eval.{csv,json}`` and ``index.html`` (see :mod:`desra.evaluation`).
Bad images are reported and skipped (exit status 1); a rerun continues where the last one stopped.
"""
import desra  # noqa: F401  (basicsr compatibility and registrations)
from desra.commands import run_main
from desra.config.options import parse_command_options
from desra.evaluation import FinetuneEvalRun


def main(args=None):
    opt, _ = parse_command_options(__doc__.splitlines()[0], 'test', args=args)
    return FinetuneEvalRun(opt).run()


if __name__ == '__main__':
    run_main(main)
