"""The offline end-to-end demo (``make demo``): detect, build, fine-tune, evaluate on held-out images, report.

Runs DeSRA's four commands on the embedded demo images (``datasets/demo/``), each exactly as a user would:

1. ``desra/detect.py -opt options/demo/detect.yml``: artifacts of RealESRGAN_x4plus on the fine-tuning images;
2. ``desra/build_dataset.py -opt options/demo/build_dataset.yml``: LR / pseudo-GT / mask training pairs;
3. ``desra/train.py -opt options/demo/finetune.yml --auto_resume``: mask-guided GAN fine-tuning on the CPU, which
   validates on the fine-tuning images and keeps the checkpoint its selection chooses (``val: select:``) as
   ``models/net_g_best.pth``;
4. ``desra/test.py -opt options/demo/test_finetune.yml``: original vs the selected fine-tuned checkpoint on the
   held-out images (``datasets/demo/splits.yml``: ``heldout``).

``--seed N`` (``make demo SEED=N``) trains with ``manual_seed: N`` into ``experiments/demo_finetune_seedN/`` (seed 0,
the default: ``experiments/demo_finetune/``) and evaluates that run's selected checkpoint; detection, the dataset and
the original and MSE results of the held-out images are shared by every seed.

The MSE model is ``experiments/pretrained_models/DemoMSE_x4plus.pth`` (see ``datasets/demo/README.md``), or the
official ``RealESRNet_x4plus.pth`` when it is in that folder. Every step continues where an interrupted run stopped.
At the end it prints where the report is, which iteration the selection chose and why, and the headline figures,
whatever they are: removal rate, texture-difference reduction and addition rate, PSNR / SSIM outside the artifacts,
NIQE of the original GAN, MSE and fine-tuned results, detail retention (mean, min and per image) and the realism
verdict, then which of the demo's goals (issue 15) the run meets.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time

from desra.evaluation.finetune_eval import checkpoint_text
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


def finetune_name(seed):
    """The demo's training run of ``seed`` (its folder under ``experiments/``)."""
    return 'demo_finetune' if seed == 0 else f'demo_finetune_seed{seed}'


def mse_weights():
    """The MSE model the demo uses: the official RealESRNet_x4plus when it is there, else the demo's own."""
    return OFFICIAL_MSE if os.path.isfile(os.path.join(REPO_ROOT, OFFICIAL_MSE)) else DEMO_MSE


def run_stages(seed=0, mse=None):
    """Run the four steps of the demo with training seed ``seed`` and the MSE model ``mse`` (default
    :func:`mse_weights`).

    Returns:
        str: The folder of the evaluation (``results/demo_test_finetune``).
    """
    mse = mse or mse_weights()
    use_mse = ['--force_yml', f'path:pretrain_network_mse={mse}']
    name = finetune_name(seed)
    run_step('Stage 1: detect the artifacts of RealESRGAN_x4plus on the fine-tuning images',
             ['desra/detect.py', '-opt', 'options/demo/detect.yml', *use_mse])
    run_step('Stage 2: build the artifact-mask dataset (LR, pseudo-GT, mask)',
             ['desra/build_dataset.py', '-opt', 'options/demo/build_dataset.yml'])
    run_step(f'Stage 3: mask-guided GAN fine-tuning of RealESRGAN_x4plus (CPU, seed {seed}), the checkpoint chosen '
             'by validation on the fine-tuning images',
             ['desra/train.py', '-opt', 'options/demo/finetune.yml', '--auto_resume',
              '--force_yml', f'name={name}', f'manual_seed={seed}'])
    run_step('Proof on held-out images: original vs the selected fine-tuned checkpoint',
             ['desra/test.py', '-opt', 'options/demo/test_finetune.yml', *use_mse,
              f'path:pretrain_network_finetuned=experiments/{name}/models/net_g_best.pth'])
    return os.path.join(REPO_ROOT, 'results', 'demo_test_finetune')


def print_results(run_root, start):
    """Print where the reports are, the checkpoint evaluated, the headline figures and the goals."""
    with open(os.path.join(run_root, 'finetune_eval.json'), encoding='utf-8') as f:
        evaluation = json.load(f)
    print(f'\nDemo finished in {(time.time() - start) / 60:.1f} min.')
    print(f'Detection report:  {os.path.join(REPO_ROOT, "results", "demo_detect", "index.html")}')
    print(f'Evaluation report: {os.path.join(run_root, "index.html")}')
    print(checkpoint_text(evaluation['checkpoint']))
    print(summary_text(evaluation['summary'], evaluation['images']))
    print(goals_text(evaluation['summary']))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seed', type=int, default=0, help='manual_seed of the fine-tuning (default 0)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    mse = mse_weights()
    print(f'MSE model: {mse}' + ('' if mse == OFFICIAL_MSE else ' (the demo pair: see datasets/demo/README.md)'))
    start = time.time()
    print_results(run_stages(args.seed, mse), start)


#: The demo's goals (issue 15): (label, summary key, at least (True) or at most, threshold).
GOALS = (('removal rate >= 0.85', 'removal_rate', True, 0.85),
         ('texture-difference reduction >= 0.5', 'texture_reduction', True, 0.5),
         ('addition rate <= 0.05', 'addition_rate', False, 0.05),
         ('mean NIQE fine-tuned <= mean NIQE GAN + 0.3', 'niqe_gap', False, 0.3),
         ('detail retention >= 0.85 on every held-out image', 'min_detail_retention', True, 0.85))


def goals_text(total):
    """The demo's goals, each with whether the run meets it (:func:`goals_met`), as lines of text."""
    lines = [f'  {"met    " if met else "not met"}  {label}' for label, met in goals_met(total)]
    return '\n'.join(['Goals (issue 15):'] + lines)


def goals_met(total):
    """``[(goal, met)]`` for the demo's goals (:data:`GOALS`); an undefined figure (null) does not meet its goal."""
    def value(key):
        if key == 'niqe_gap':
            return value('mean_niqe_finetuned') - value('mean_niqe_gan')
        figure = total.get(key)
        return math.nan if figure is None else figure

    return [(label, value(key) >= threshold if at_least else value(key) <= threshold)
            for label, key, at_least, threshold in GOALS]


if __name__ == '__main__':
    main()
