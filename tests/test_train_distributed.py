"""desra/train.py under torchrun on the CPU (gloo): DDP over processes trains as one process with the whole batch."""
import os
import re
import subprocess
import sys

import torch
import yaml

from tests.conftest import REPO_ROOT, TINY_RRDB_OPT
from tests.test_desra_model import write_validation_images
from tests.test_train_resume import load, run_train, write_options

#: Runs desra/train.py's pipeline with experiments under argv[1] instead of the repository (the command line's
#: other words are the training command's).
LAUNCHER = '''import sys
from desra.train import main
root = sys.argv.pop(1)
sys.exit(main(root_path=root))
'''


def test_two_processes_with_half_batches_train_as_one_process_with_the_whole_batch(tmp_path, tiny_dataset):
    """The sampler gives rank r positions r, r + 2, ... of the epoch, so the two ranks' batches of 1 are the two
    halves of the single process's batch of 2, and DDP averages the ranks' gradients: with the mean losses (L1,
    GAN) and the masked ones (masked L1, region-weighted GAN, whose normaliser is averaged over the processes) they
    give the same steps, although the two crops of a batch hold different artifact areas. SGD keeps the difference
    at float rounding (Adam's first steps would blow rounding up to the learning rate in parameters whose gradient
    is about 0). The two-process run stops at iteration 3 and is resumed with --auto_resume, which must not change
    the result either."""
    common = dict(optim_g={'type': 'SGD', 'lr': 0.05}, optim_d={'type': 'SGD', 'lr': 0.05})
    run_train(tmp_path, write_options(tmp_path, tiny_dataset, 'one_process', dict(TINY_RRDB_OPT), **common))

    option_file = write_options(tmp_path, tiny_dataset, 'two_processes', dict(TINY_RRDB_OPT), **common)
    opt = yaml.safe_load(option_file.read_text())
    opt['datasets']['train']['batch_size_per_gpu'] = 1
    (tmp_path / 'val').mkdir()
    write_validation_images(tmp_path / 'val')  # validation on rank 0 while rank 1 waits: it changes no weights
    opt['datasets']['val'] = {'name': 'heldout', 'type': 'SingleImageDataset', 'dataroot_lq': str(tmp_path / 'val/lq'),
                              'dataroot_mse': str(tmp_path / 'val/mse'), 'io_backend': {'type': 'disk'}}
    opt['val'] = {'val_freq': 2, 'detector': {'window_size': 5, 'min_area': 1, 'segmenter': {'type': 'none'}}}
    option_file.write_text(yaml.safe_dump(opt))
    launcher = tmp_path / 'launch_train.py'
    launcher.write_text(LAUNCHER)

    def torchrun(*args):
        result = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node',
                                 '2', str(launcher), str(tmp_path), '-opt', str(option_file), '--launcher', 'pytorch',
                                 *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
                                env={**os.environ, 'PYTHONPATH': REPO_ROOT, 'OMP_NUM_THREADS': '1'})
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        return result.stdout + result.stderr

    first = torchrun('--force_yml', 'train:total_iter=3')  # stopped at 3 ...
    second = torchrun('--auto_resume')  # ... and resumed to 6 by both processes
    assert '2 process(es)' in first and 'Resuming from' in second
    validations = re.findall(r'Validation heldout, iter (\d+): \d+ artifact pixels', first + second)
    assert validations == ['2', '3', '4', '6']  # every 2 iterations and at the end, once (rank 0)

    experiment = tmp_path / 'experiments' / 'two_processes'
    assert sorted(p.name for p in (experiment / 'models').iterdir()) == [  # rank 0 alone writes, nothing half-done
        'net_d_3.pth', 'net_d_6.pth', 'net_d_latest.pth', 'net_g_3.pth', 'net_g_6.pth', 'net_g_latest.pth']
    assert sorted(p.name for p in (experiment / 'training_states').iterdir()) == ['3.state', '6.state']
    for file, keys in (('net_g_latest.pth', ('params', 'params_ema')), ('net_d_latest.pth', ('params',))):
        one, two = load(tmp_path, 'one_process', file), load(tmp_path, 'two_processes', file)
        start = load(tmp_path, 'one_process', file.replace('latest', '3'))
        for key in keys:
            for name, value in one[key].items():
                torch.testing.assert_close(two[key][name], value, rtol=0, atol=1e-6, msg=f'{file} {key} {name}')
            assert any(not torch.equal(value, start[key][name]) for name, value in one[key].items())
