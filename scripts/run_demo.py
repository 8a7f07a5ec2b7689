"""The offline end-to-end demo (``make demo``): detect, build, fine-tune, evaluate on held-out images, report.

Runs DeSRA's four commands on the embedded demo images (``datasets/demo/``), each exactly as a user would:

1. ``desra/detect.py -opt options/demo/detect.yml``: artifacts of RealESRGAN_x4plus on the fine-tuning images;
2. ``desra/build_dataset.py -opt options/demo/build_dataset.yml``: LR / pseudo-GT / mask training pairs;
3. ``desra/train.py -opt options/demo/finetune.yml --auto_resume``: mask-guided GAN fine-tuning on the CPU;
4. ``desra/test.py -opt options/demo/test_finetune.yml``: original vs fine-tuned on the held-out images.

The MSE model is ``experiments/pretrained_models/DemoMSE_x4plus.pth`` (see ``datasets/demo/README.md``), or the
official ``RealESRNet_x4plus.pth`` when it is in that folder. Every step continues where an interrupted run stopped.
At the end it prints where the report is and the headline figures, whatever they are: removal and addition rates,
PSNR / SSIM outside the artifacts, NIQE of the original GAN, MSE and fine-tuned results, detail retention (mean,
min and per image) and the realism verdict, then which of the goals of issue 9 the run meets.
"""
import json
import math
import os
import subprocess
import sys
import time

from desra.evaluation.summary import summary_text

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRETRAINED = os.path.join('experiments', 'pretrained_models')
OFFICIAL_MSE = os.path.join(PRETRAINED, 'RealESRNet_x4plus.pth')
DEMO_MSE = os.path.join(PRETRAINED, 'DemoMSE_x4plus.pth')


def run_step(title, args):
    """Run ``python <args>`` from the repository root; stop the demo if it fails."""
    print(f'\n=== {title}\n    python {" ".join(args)}', flush=True)
    start = time.time()
    status = subprocess.call([sys.executable, *args], cwd=REPO_ROOT)
    if status != 0:
        sys.exit(f'demo stopped: step "{title}" exited with status {status}')
    print(f'    done in {time.time() - start:.0f} s', flush=True)


def main():
    mse_weights = OFFICIAL_MSE if os.path.isfile(os.path.join(REPO_ROOT, OFFICIAL_MSE)) else DEMO_MSE
    print(f'MSE model: {mse_weights}' + ('' if mse_weights == OFFICIAL_MSE else
                                         ' (the demo pair: see datasets/demo/README.md)'))
    use_mse = ['--force_yml', f'path:pretrain_network_mse={mse_weights}']
    start = time.time()
    run_step('Stage 1: detect the artifacts of RealESRGAN_x4plus on the fine-tuning images',
             ['desra/detect.py', '-opt', 'options/demo/detect.yml', *use_mse])
    run_step('Stage 2: build the artifact-mask dataset (LR, pseudo-GT, mask)',
             ['desra/build_dataset.py', '-opt', 'options/demo/build_dataset.yml'])
    run_step('Stage 3: mask-guided GAN fine-tuning of RealESRGAN_x4plus (CPU)',
             ['desra/train.py', '-opt', 'options/demo/finetune.yml', '--auto_resume'])
    run_step('Proof on held-out images: original vs fine-tuned',
             ['desra/test.py', '-opt', 'options/demo/test_finetune.yml', *use_mse])

    run_root = os.path.join(REPO_ROOT, 'results', 'demo_test_finetune')
    with open(os.path.join(run_root, 'finetune_eval.json'), encoding='utf-8') as f:
        evaluation = json.load(f)
    print(f'\nDemo finished in {(time.time() - start) / 60:.1f} min.')
    print(f'Detection report:  {os.path.join(REPO_ROOT, "results", "demo_detect", "index.html")}')
    print(f'Evaluation report: {os.path.join(run_root, "index.html")}')
    print(summary_text(evaluation['summary'], evaluation['images']))
    print(goals_text(evaluation['summary']))


def goals_text(total):
    """The demo's goals, each with whether the run meets it (:func:`goals_met`), as lines of text."""
    lines = [f'  {"met    " if met else "not met"}  {label}' for label, met in goals_met(total)]
    return '\n'.join(['Goals (issue 9):'] + lines)


def goals_met(total):
    """``[(goal, met)]`` for the demo's goals (issue 9 §3); an undefined figure (null) does not meet its goal."""
    removal, addition, retention = total['removal_rate'], total['addition_rate'], total['min_detail_retention']
    niqe_gan, niqe_finetuned = total['mean_niqe_gan'], total['mean_niqe_finetuned']
    defined = (removal, addition, retention, niqe_gan, niqe_finetuned)
    removal, addition, retention, niqe_gan, niqe_finetuned = (math.nan if value is None else value
                                                              for value in defined)
    return [('removal rate >= 0.8', removal >= 0.8), ('addition rate <= 0.1', addition <= 0.1),
            ('mean NIQE fine-tuned <= mean NIQE GAN + 0.5', niqe_finetuned <= niqe_gan + 0.5),
            ('detail retention >= 0.8 on every held-out image', retention >= 0.8)]


if __name__ == '__main__':
    main()
