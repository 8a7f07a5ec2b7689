"""Every check the CPU cannot make, in one command on one CUDA GPU, in at most 8 minutes: ``make gpu-check``.

    python scripts/gpu_check.py [--output results/gpu_check.md] [--budget 480]

1. whole detection throughput at 1920x1080 with SegFormer-B5's architecture (random weights: B5's cost without its
   weights) and fp16 autocast: ``scripts/benchmark_detection.py --device cuda --segformer random-b5``;
2. the training benchmark with bf16 autocast (RealESRGAN_x4plus's networks, batch 12, gt_size 256, as the fine-tuning
   recipes): ``scripts/benchmark_training.py --device cuda --amp bf16``;
3. the CUDA equivalence tests: ``pytest -m cuda tests`` (tests marked ``@pytest.mark.cuda``; skipped elsewhere);
4. the detect command under torchrun over NCCL on two tiny SR-pair folders: two processes when there are two GPUs;
   with one GPU a single process (NCCL refuses two ranks on one device), which the report says.

Each check runs as a subprocess with its share of the time budget (``--budget`` seconds in all), and its figures
are written, in the form of ``docs/benchmarks.md`` (a markdown table and the lines each benchmark printed), to
``--output`` and to the screen. The exit status is 0 when every check passed, 1 otherwise, and 2 at once, before
anything runs, on a machine without CUDA.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np
import yaml

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: Seconds for all checks together (8 minutes), and each check's share of it.
DEFAULT_BUDGET = 480
SHARES = {'detection': 0.25, 'training': 0.35, 'cuda tests': 0.2, 'torchrun': 0.2}


def detection_command():
    return [sys.executable, 'scripts/benchmark_detection.py', '--device', 'cuda', '--mode', 'whole',
            '--segformer', 'random-b5', '--size', '1920x1080', '--repeats', '5']


def training_command():
    return [sys.executable, 'scripts/benchmark_training.py', '--device', 'cuda', '--batch', '12', '--gt_size', '256',
            '--iters', '5', '--rounds', '3', '--amp', 'bf16', '--amp_check_iters', '30']


def cuda_tests_command():
    return [sys.executable, '-m', 'pytest', '-q', '-m', 'cuda', '-p', 'no:cacheprovider', 'tests']


def torchrun_command(option_file, processes):
    return [sys.executable, '-m', 'torch.distributed.run', '--standalone', f'--nproc_per_node={processes}',
            'desra/detect.py', '-opt', option_file, '--launcher', 'pytorch']


def write_torchrun_job(folder, images=4):
    """Tiny MSE-SR / GAN-SR folders (noise in a box of the GAN-SR) and a detect option file on CUDA; its run folder."""
    rng = np.random.default_rng(0)
    for index in range(images):
        mse = np.tile(np.linspace(40, 200, 96, dtype=np.float64)[None, :, None], (80, 1, 3))
        gan = mse.copy()
        gan[20:50, 20:60] += rng.normal(0, 40, (30, 40, 3))
        for name, img in (('mse', mse), ('gan', gan)):
            os.makedirs(os.path.join(folder, name), exist_ok=True)
            cv2.imwrite(os.path.join(folder, name, f'{index}.png'), np.clip(img, 0, 255).astype(np.uint8))
    opt = {'name': 'gpu_check_torchrun', 'num_gpu': 'auto', 'manual_seed': 0,
           'datasets': {'detect': {'dataroot_mse': os.path.join(folder, 'mse'),
                                   'dataroot_gan': os.path.join(folder, 'gan')}},
           'detector': {'min_area': 50, 'segmenter': {'type': 'none'}},
           'path': {'results_root': os.path.join(folder, 'results')}}
    option_file = os.path.join(folder, 'detect.yml')
    with open(option_file, 'w') as f:
        yaml.safe_dump(opt, f)
    return option_file, os.path.join(folder, 'results', opt['name'])


def run_check(command, timeout):
    """Run ``command`` in the repository; return (exit status or 'timeout', seconds, combined output)."""
    start = time.perf_counter()
    try:
        result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout)
        status, output = result.returncode, result.stdout + result.stderr
    except subprocess.TimeoutExpired as error:
        status = 'timeout'
        output = (error.stdout or b'').decode(errors='replace') + (error.stderr or b'').decode(errors='replace')
    return status, time.perf_counter() - start, output


def figure_lines(output, patterns):
    """The lines of ``output`` that match one of the regular expressions ``patterns``."""
    return [line.rstrip() for line in output.splitlines() if any(re.search(p, line) for p in patterns)]


def markdown_report(device, rows, details):
    """The report: a heading with the device, a table (check, result, status, seconds) and each check's figures."""
    lines = [f'### GPU check: {device}', '', f'`python scripts/gpu_check.py` ({time.strftime("%Y-%m-%d")})', '',
             '| check | result | status | time |', '|---|---|---|---|']
    lines += [f'| {name} | {result} | {status} | {seconds:.0f} s |' for name, result, status, seconds in rows]
    for name, text in details:
        lines += ['', f'{name}:', '', '```', *text, '```']
    return '\n'.join(lines) + '\n'


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--output', default=os.path.join('results', 'gpu_check.md'), help='markdown file written')
    parser.add_argument('--budget', type=float, default=DEFAULT_BUDGET, help='seconds for all checks together')
    args = parser.parse_args(argv)

    import torch
    if not torch.cuda.is_available():
        print('error: gpu-check needs a CUDA GPU, and torch.cuda.is_available() is False on this machine '
              f'(torch {torch.__version__}, CUDA build {torch.version.cuda}); run it where nvidia-smi shows a GPU',
              file=sys.stderr)
        return 2
    gpus = torch.cuda.device_count()
    device = f'{torch.cuda.get_device_name(0)} x{gpus}, torch {torch.__version__}, CUDA {torch.version.cuda}'
    print(f'gpu-check on {device}; budget {args.budget:.0f} s', flush=True)
    rows, details, deadline = [], [], time.perf_counter() + args.budget

    def check(name, command, patterns, summarize):
        timeout = max(min(SHARES[name] * args.budget, deadline - time.perf_counter()), 1)
        print(f'[{name}] {" ".join(command[1:])} (at most {timeout:.0f} s)', flush=True)
        status, seconds, output = run_check(command, timeout)
        text = figure_lines(output, patterns) if status == 0 else output.strip().splitlines()[-15:]
        ok = status == 0
        rows.append((name, summarize(text) if ok else f'failed ({status})', 'ok' if ok else 'FAILED', seconds))
        details.append((f'{name}: `{" ".join(command[1:])}`', text))
        print('\n'.join(text), flush=True)
        return ok

    results = [
        check('detection', detection_command(), [r'images/s'],
              lambda text: re.search(r'[\d.]+ images/s', text[-1]).group(0) if text else 'no figure'),
        check('training', training_command(), [r'it/s', r'x \(goal', r'masked L1', r'Device'],
              lambda text: '; '.join(line.strip() for line in text if 'bf16' in line or '/ SRGANModel' in line)),
        check('cuda tests', cuda_tests_command(), [r'passed|failed|error|no tests ran'],
              lambda text: text[-1] if text else 'no summary'),
    ]
    processes = min(gpus, 2)
    with tempfile.TemporaryDirectory() as folder:
        option_file, run_root = write_torchrun_job(folder)
        note = '' if processes == 2 else ' (1 GPU: 1 process; NCCL does not put two ranks on one device)'
        results.append(check('torchrun', torchrun_command(option_file, processes), [r'images processed|error'],
                             lambda text: f'{processes} NCCL process(es), '
                                          f'{len(os.listdir(os.path.join(run_root, "masks")))} masks{note}'))
    report = markdown_report(device, rows, details)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, 'w', encoding='utf-8') as f:
        f.write(report)
    print(f'\n{report}\nwritten to {args.output}')
    return 0 if all(results) else 1


if __name__ == '__main__':
    sys.exit(main())
