"""Ablation of the demo's fine-tuning recipe: variants x seeds of Stage 3, each judged on the held-out demo images.

For every named variant (a list of ``--force_yml`` overrides of ``options/demo/finetune.yml``, :data:`VARIANTS`)
and seed it runs, exactly as a user would:

1. once, when ``results/demo_build/`` is missing: ``desra/detect.py -opt options/demo/detect.yml`` and
   ``desra/build_dataset.py -opt options/demo/build_dataset.yml`` (the demo's Stages 1 and 2);
2. ``desra/train.py -opt options/demo/finetune.yml --force_yml name=abl_<variant>_s<seed> manual_seed=<seed> ...``;
3. ``desra/test.py -opt options/demo/test_finetune.yml`` on the held-out images (run ``abl_<variant>_s<seed>_test``);
   the original GAN's and the MSE model's results are the same for every run, so they are made once, by the
   reference run ``abl_reference_test`` (the original model as the "fine-tuned" one: the table's first line), and
   linked into every run's ``sr_gan/`` and ``sr_mse/`` (the test command reuses results it finds);
4. the realism figures (:func:`desra.metrics.realism.score_realism`) of each held-out image from the run's
   ``sr_gan/``, ``sr_mse/``, ``sr_finetuned/`` and the pixels outside both artifact masks
   (``detect_gan/masks``, ``detect_finetuned/masks``).

Finished runs are skipped (their figures are kept in ``<out_dir>/runs/<run>.json``), so an interrupted sweep
continues where it stopped. The table (``<out_dir>/ablation.md``) has one line per run and one per variant (means
over the seeds): removal and addition rates, mean NIQE of the GAN / MSE / fine-tuned results, detail retention
(fine-tuned / GAN outside the masks) mean and minimum over the images, the worst realism verdict, whether the demo's
goals are met (removal >= 0.8, addition <= 0.1, NIQE at most 0.5 above the GAN's, retention >= 0.8 on every image)
and the training time.

Example (the sweep of docs/benchmarks.md)::

    python scripts/ablate_finetune.py --variants paper consistent --seeds 0 1 2
"""
import argparse
import glob
import json
import math
import os
import statistics
import subprocess
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

import desra  # noqa: E402,F401  (basicsr compatibility and registrations)
from desra.metrics.detection_metrics import load_mask  # noqa: E402
from desra.metrics.realism import VERDICTS, score_realism  # noqa: E402
from desra.io.images import load_rgb255, write_text  # noqa: E402

FINETUNE_OPT = 'options/demo/finetune.yml'
ORIGINAL_GAN = 'experiments/pretrained_models/RealESRGAN_x4plus.pth'


def recipe(target, lr='1e-4', *overrides):
    """The ``--force_yml`` overrides of one variant: its ``train:target_outside``, its generator learning rate
    (default Real-ESRGAN's 1e-4; the demo's own is 8.5e-6) and any others."""
    return [f'train:target_outside={target}', f'train:optim_g:lr={lr}', *overrides]


def consistent(lr='1e-4', *overrides):
    return recipe('frozen_generator', lr, *overrides)


#: The variants: ``--force_yml`` overrides of :data:`FINETUNE_OPT` (``paper`` = the paper's pseudo-GT target).
VARIANTS = {
    'paper': recipe('pseudo_gt'),
    'paper_lr1e-5': recipe('pseudo_gt', '1e-5'),
    'paper_lr8.5e-6': recipe('pseudo_gt', '8.5e-6'),
    'consistent': consistent(),
    'consistent_fixed_trunk': consistent('1e-4', r"train:fixed_params=['conv_first','body\.([0-9]|1[0-5])\.']"),
    'consistent_gan_inside_only': consistent('1e-4', 'train:gan_mask_weight=0'),
    'consistent_no_gan': consistent('1e-4', 'train:gan_opt:loss_weight=0'),
    'consistent_ema0': consistent('1e-4', 'train:ema_decay=0'),
    'consistent_crop128': consistent('1e-4', 'datasets:train:gt_size=128'),
    **{f'consistent_lr{lr}': consistent(lr) for lr in ('5e-5', '1e-5', '9e-6', '8.5e-6', '7e-6', '5e-6')},
    'consistent_lr1e-5_crop0.25': consistent('1e-5', 'datasets:train:artifact_crop_prob=0.25'),
    'consistent_lr1e-5_ema0.95': consistent('1e-5', 'train:ema_decay=0.95'),
    'consistent_lr1e-5_no_masked_l1': consistent('1e-5', 'train:masked_pixel_opt:loss_weight=0'),
    'consistent_lr1e-5_batch4': consistent('1e-5', 'datasets:train:batch_size_per_gpu=4'),
    'consistent_lr1e-5_crop96': consistent('1e-5', 'datasets:train:gt_size=96'),
    'consistent_lr7e-6_iter45': consistent('7e-6', 'train:total_iter=45', 'train:scheduler:milestones=[45]',
                                           'logger:save_checkpoint_freq=45'),
}
#: The demo's goals (issue 9).
GOALS = {'removal': 0.8, 'addition': 0.1, 'niqe_rise': 0.5, 'retention': 0.8}


def python(args, log_path):
    """Run ``python <args>`` from the repository root, output appended to ``log_path``; return the seconds taken."""
    start = time.time()
    with open(log_path, 'a', encoding='utf-8') as log:
        log.write(f'\n$ python {" ".join(args)}\n')
        log.flush()
        status = subprocess.call([sys.executable, *args], cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
    if status != 0:
        sys.exit(f'ablation stopped: python {" ".join(args)} exited with status {status} (see {log_path})')
    return time.time() - start


def prepare_dataset(log_path):
    """The demo's Stages 1 and 2, when their dataset is missing."""
    if os.path.isfile(os.path.join(REPO_ROOT, 'results', 'demo_build', 'meta_info.txt')):
        return
    python(['desra/detect.py', '-opt', 'options/demo/detect.yml'], log_path)
    python(['desra/build_dataset.py', '-opt', 'options/demo/build_dataset.yml'], log_path)


def link_reference_results(run_root, reference_root):
    """Hard-link the original GAN's and the MSE model's held-out results of an earlier run into ``run_root``, with
    the record of what made them (``.made_with.json``), without which the test command would make them again."""
    for role in ('sr_gan', 'sr_mse'):
        os.makedirs(os.path.join(run_root, role), exist_ok=True)
        for path in glob.glob(os.path.join(reference_root, role, '*.png')) + \
                glob.glob(os.path.join(reference_root, role, '.made_with.json')):
            target = os.path.join(run_root, role, os.path.basename(path))
            if not os.path.exists(target):
                os.link(path, target)


def realism_of_run(run_root):
    """Per held-out image: :func:`score_realism` outside both artifact masks of the test run in ``run_root``."""
    figures = {}
    for path in sorted(glob.glob(os.path.join(run_root, 'sr_finetuned', '*.png'))):
        name = os.path.basename(path)
        images = {role: load_rgb255(os.path.join(run_root, f'sr_{role}', name)) for role in ('gan', 'mse', 'finetuned')}
        outside = ~(load_mask(os.path.join(run_root, 'detect_gan', 'masks', name)) |
                    load_mask(os.path.join(run_root, 'detect_finetuned', 'masks', name)))
        figures[os.path.splitext(name)[0]] = score_realism(images['gan'], images['mse'], images['finetuned'], outside)
    return figures


def finite_mean(values):
    values = [value for value in values if value is not None and math.isfinite(value)]
    return statistics.fmean(values) if values else math.nan


def run_figures(summary, realism, train_seconds):
    """One run's table figures from its ``finetune_eval.json`` summary and per-image realism."""
    per_image = list(realism.values())
    figures = {'removal': summary['removal_rate'], 'addition': summary['addition_rate'],
               'train_s': train_seconds, 'images': realism}
    for key in ('niqe_gan', 'niqe_mse', 'niqe_finetuned', 'detail_retention'):
        figures[key] = finite_mean([image[key] for image in per_image])
    figures['retention_min'] = min(image['detail_retention'] for image in per_image)
    verdicts = [image['realism'] for image in per_image if image['realism'] in VERDICTS]
    figures['verdict'] = max(verdicts, key=VERDICTS.index) if verdicts else 'n/a'
    figures['goals'] = bool(
        (figures['removal'] or 0) >= GOALS['removal'] and (figures['addition'] or 0) <= GOALS['addition'] and
        figures['niqe_finetuned'] - figures['niqe_gan'] <= GOALS['niqe_rise'] and
        figures['retention_min'] >= GOALS['retention'])
    return figures


def test_run(name, checkpoint, log_path, reference=None):
    """``desra/test.py`` on the held-out images with ``checkpoint`` as the fine-tuned model; returns its folder and
    ``finetune_eval.json`` summary."""
    run_root = os.path.join(REPO_ROOT, 'results', name)
    if reference is not None:
        link_reference_results(run_root, reference)
    python(['desra/test.py', '-opt', 'options/demo/test_finetune.yml', '--force_yml', f'name={name}',
            f'path:pretrain_network_finetuned={checkpoint}'], log_path)
    with open(os.path.join(run_root, 'finetune_eval.json'), encoding='utf-8') as f:
        return run_root, json.load(f)['summary']


def reference_run(args):
    """The original model judged as if fine-tuned (removal 0, retention 1): the table's baseline, and the run whose
    original-GAN and MSE results the other runs reuse. Returns its record."""
    name = f'{args.prefix}reference'
    record_path = os.path.join(args.out_dir, 'runs', f'{name}.json')
    if not os.path.isfile(record_path):
        run_root, summary = test_run(f'{name}_test', ORIGINAL_GAN, os.path.join(args.out_dir, 'logs', f'{name}.log'))
        write_text(record_path, json.dumps({'variant': 'original (not fine-tuned)', 'seed': '-', 'run': f'{name}_test',
                                            **run_figures(summary, realism_of_run(run_root), 0.0)}, indent=1))
    with open(record_path, encoding='utf-8') as f:
        return json.load(f)


def run_one(variant, seed, args, reference):
    """Train and test one variant with one seed (skipped when done); return its figures."""
    name = f'{args.prefix}{variant}_s{seed}'
    record_path = os.path.join(args.out_dir, 'runs', f'{name}.json')
    if os.path.isfile(record_path):
        with open(record_path, encoding='utf-8') as f:
            return json.load(f)
    log_path = os.path.join(args.out_dir, 'logs', f'{name}.log')
    checkpoint = os.path.join('experiments', name, 'models', 'net_g_latest.pth')
    train_seconds = python(['desra/train.py', '-opt', FINETUNE_OPT, '--auto_resume', '--force_yml', f'name={name}',
                            f'manual_seed={seed}', *VARIANTS[variant], *args.common], log_path)
    test_name = f'{name}_test'
    run_root, summary = test_run(test_name, checkpoint, log_path, reference)
    figures = {'variant': variant, 'seed': seed, 'run': test_name, 'overrides': VARIANTS[variant] + args.common,
               **run_figures(summary, realism_of_run(run_root), train_seconds)}
    write_text(record_path, json.dumps(figures, indent=1, default=float))
    return figures


def fmt(value, digits=3):
    return 'n/a' if value is None or (isinstance(value, float) and not math.isfinite(value)) else \
        f'{value:.{digits}f}'


def table(records):
    """The markdown table: one line per run, then one per variant (means over its seeds)."""
    lines = ['| variant | seed | removal | addition | NIQE GAN | NIQE MSE | NIQE FT | detail ret. mean | '
             'detail ret. min | verdict | goals | train s |', '|' + ' --- |' * 12]

    def line(variant, seed, r):
        return (f'| {variant} | {seed} | {fmt(r["removal"])} | {fmt(r["addition"])} | {fmt(r["niqe_gan"], 2)} | '
                f'{fmt(r["niqe_mse"], 2)} | {fmt(r["niqe_finetuned"], 2)} | {fmt(r["detail_retention"], 2)} | '
                f'{fmt(r["retention_min"], 2)} | {r["verdict"]} | {r["goals"]} | {fmt(r["train_s"], 0)} |')
    for r in records:
        lines.append(line(r['variant'], r['seed'], r))
    for variant in dict.fromkeys(r['variant'] for r in records[1:]):
        runs = [r for r in records if r['variant'] == variant]
        mean = {key: finite_mean([r[key] for r in runs]) for key in (
            'removal', 'addition', 'niqe_gan', 'niqe_mse', 'niqe_finetuned', 'detail_retention', 'retention_min',
            'train_s')}
        mean['verdict'] = max((r['verdict'] for r in runs), key=lambda v: VERDICTS.index(v) if v in VERDICTS else -1)
        mean['goals'] = f'{sum(r["goals"] for r in runs)}/{len(runs)}'
        lines.append(line(f'**{variant}** (mean)', ','.join(str(r['seed']) for r in runs), mean))
    return '\n'.join(lines) + '\n'


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--variants', nargs='+', default=['paper', 'consistent'], choices=sorted(VARIANTS))
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument('--common', nargs='*', default=[],
                        help='--force_yml overrides added to every variant, e.g. train:total_iter=120')
    parser.add_argument('--prefix', default='abl_', help='run-name prefix (experiments/ and results/)')
    parser.add_argument('--out_dir', default=os.path.join(REPO_ROOT, 'results', 'ablation_finetune'))
    parser.add_argument('--table_only', action='store_true',
                        help='run nothing: write the table of the finished runs among --variants x --seeds')
    args = parser.parse_args(argv)
    if args.table_only:
        names = ['reference'] + [f'{variant}_s{seed}' for seed in args.seeds for variant in args.variants]
        paths = [os.path.join(args.out_dir, 'runs', f'{args.prefix}{name}.json') for name in names]
        records = []
        for path in filter(os.path.isfile, paths):
            with open(path, encoding='utf-8') as f:
                records.append(json.load(f))
        records[1:] = sorted(records[1:], key=lambda r: (args.variants.index(r['variant']), r['seed']))
        write_text(os.path.join(args.out_dir, 'ablation.md'), table(records))
        print(table(records))
        return 0
    for folder in ('runs', 'logs'):
        os.makedirs(os.path.join(args.out_dir, folder), exist_ok=True)
    prepare_dataset(os.path.join(args.out_dir, 'logs', 'prepare.log'))
    records = [reference_run(args)]
    reference = os.path.join(REPO_ROOT, 'results', records[0]['run'])
    for seed in args.seeds:  # seed-major: every variant has a first figure early
        for variant in args.variants:
            records.append(run_one(variant, seed, args, reference))
            write_text(os.path.join(args.out_dir, 'ablation.md'), table(records))
            print(table(records), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
