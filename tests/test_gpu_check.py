"""``make gpu-check`` (scripts/gpu_check.py) where there is no GPU: its refusal, and that every command it would run
is accepted by the command-line parser of the script it runs."""
import argparse
import os
import runpy
import subprocess

import pytest
import torch
from conftest import REPO_ROOT

import desra.detect
from desra.config.options import parse_command_options
from desra.detection.detect_run import DetectRun

GPU_CHECK = runpy.run_path(os.path.join(REPO_ROOT, 'scripts', 'gpu_check.py'))


class Parsed(Exception):
    """Raised instead of running a command, with the arguments its parser accepted."""


@pytest.fixture
def parse_only(monkeypatch):
    """Make every argparse parser stop right after parsing (errors still exit with status 2)."""
    parse_args = argparse.ArgumentParser.parse_args

    def parse_and_stop(self, args=None, namespace=None):
        raise Parsed(parse_args(self, args, namespace))

    monkeypatch.setattr(argparse.ArgumentParser, 'parse_args', parse_and_stop)


def parsed_arguments(command):
    """The namespace the script of ``command`` (``[python, script, args...]``) parses its arguments into."""
    script = runpy.run_path(os.path.join(REPO_ROOT, command[1]))
    with pytest.raises(Parsed) as parsed:
        script['main'](command[2:])
    return vars(parsed.value.args[0])


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the refusal of a machine without CUDA')
def test_refuses_at_once_without_cuda(tmp_path, capsys):
    output = tmp_path / 'report.md'
    assert GPU_CHECK['main'](['--output', str(output)]) == 2
    assert capsys.readouterr().err.startswith('error: gpu-check needs a CUDA GPU, and torch.cuda.is_available() is '
                                              'False on this machine')
    assert not output.exists()


def test_detection_and_training_benchmark_arguments(parse_only):
    detection = parsed_arguments(GPU_CHECK['detection_command']())
    assert (detection['device'], detection['mode'], detection['segformer'], detection['size']) == (
        'cuda', 'whole', 'random-b5', (1920, 1080))
    training = parsed_arguments(GPU_CHECK['training_command']())
    assert (training['device'], training['amp'], training['batch'], training['gt_size']) == ('cuda', 'bf16', 12, 256)


def test_torchrun_job_parses_and_detects(tmp_path, parse_only):
    option_file, run_root = GPU_CHECK['write_torchrun_job'](str(tmp_path))
    command = GPU_CHECK['torchrun_command'](option_file, 2)
    assert command[1:5] == ['-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2']
    with pytest.raises(Parsed) as parsed:
        desra.detect.main(command[command.index('desra/detect.py') + 1:])
    assert vars(parsed.value.args[0])['launcher'] == 'pytorch'


def test_torchrun_job_finds_its_artifacts_on_the_cpu(tmp_path):
    """The job the torchrun check runs, here in one CPU process: every image gets a mask with its noisy box."""
    option_file, run_root = GPU_CHECK['write_torchrun_job'](str(tmp_path))
    opt, _ = parse_command_options('detect', 'detect', args=['-opt', option_file])
    assert DetectRun(opt).run() == 0
    assert sorted(os.listdir(os.path.join(run_root, 'masks'))) == ['0.png', '1.png', '2.png', '3.png']
    with open(os.path.join(run_root, 'summary.csv')) as f:
        rows = f.read().splitlines()[1:]
    assert len(rows) == 4 and all(int(row.split(',')[5]) == 1 for row in rows)  # one part each


def test_cuda_tests_are_selected_by_their_marker():
    command = GPU_CHECK['cuda_tests_command']()
    result = subprocess.run(command[:3] + ['--collect-only', '-q', '-m', 'cuda', 'tests/test_detection_map.py'],
                            cwd=REPO_ROOT, capture_output=True, text=True)
    assert 'tests/test_detection_map.py::test_detector_on_cuda_matches_the_cpu' in result.stdout.splitlines()
    assert command[command.index('-m', 3) + 1] == 'cuda'


def test_markdown_report_has_the_table_and_the_figures():
    report = GPU_CHECK['markdown_report']('H200 x1', [('detection', '12.00 images/s', 'ok', 40.2)],
                                          [('detection: `cmd`', ['line 1'])])
    assert '| check | result | status | time |' in report
    assert '| detection | 12.00 images/s | ok | 40 s |' in report
    assert '```\nline 1\n```' in report
