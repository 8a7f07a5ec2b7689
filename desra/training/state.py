"""The training state: everything a run depends on, saved with each checkpoint and restored by ``--auto_resume``.

``training_states/<iter>.state`` holds the epoch, iteration, the position in the epoch of the
:class:`~desra.data.deterministic_sampler.DeterministicSampler`, the random states (torch, CUDA, numpy, random) and
the model's :meth:`~desra.models.desra_model.DeSRAModel.training_state` (optimizers, schedulers, gradient scaler,
net_g / net_g_ema / net_d weights), as plain containers and tensors, written atomically and loaded with
``weights_only=True`` onto the CPU.
"""
import random
from contextlib import contextmanager
from os import path as osp

import numpy as np
import torch
from basicsr.utils import scandir

from desra.io.images import remove_stale_temp_files
from desra.weights.checkpoint import CorruptCheckpointError, load_checkpoint_file, save_checkpoint_file


def get_rng_states():
    """The random states of torch (CPU and CUDA), numpy and random, as tensors and plain containers."""
    _, keys, pos, has_gauss, cached_gaussian = np.random.get_state()
    states = {'torch': torch.get_rng_state(),
              'numpy': {'keys': torch.from_numpy(keys.astype(np.int64)), 'pos': int(pos), 'has_gauss': int(has_gauss),
                        'cached_gaussian': float(cached_gaussian)},
              'random': random.getstate()}
    if torch.cuda.is_available():
        states['cuda'] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states):
    """Restore what :func:`get_rng_states` returned."""
    torch.set_rng_state(states['torch'])
    if 'cuda' in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states['cuda'])
    numpy_state = states['numpy']
    np.random.set_state(('MT19937', numpy_state['keys'].numpy().astype(np.uint32), numpy_state['pos'],
                         numpy_state['has_gauss'], numpy_state['cached_gaussian']))
    version, internal_state, gauss_next = states['random']
    random.setstate((version, tuple(internal_state), gauss_next))


@contextmanager
def preserved_rng_states():
    """Run a block (validation) without changing the random states seen by the code after it."""
    states = get_rng_states()
    try:
        yield
    finally:
        set_rng_states(states)


def find_resume_state(opt):
    """The training state to resume from: ``path:resume_state``, or with ``--auto_resume`` the latest complete
    ``<iter>.state`` in ``experiments/<name>/training_states``; None to start afresh.

    With ``--auto_resume``, the temporary files that a killed run left in ``experiments/<name>/`` are removed first,
    and a state that does not load (empty, truncated) is passed over for the previous one.

    Returns:
        tuple[str | None, dict | None, list[str]]: The state file, the state loaded from it (on the CPU), and one
        message per state file passed over or temporary file removed (for the log).

    Raises:
        CorruptCheckpointError: ``path:resume_state`` names a file that does not load.
    """
    if opt['path'].get('resume_state'):
        return opt['path']['resume_state'], load_checkpoint_file(opt['path']['resume_state']), []
    state_dir = opt['path']['training_states']
    notes = []
    if opt['auto_resume'] and osp.isdir(state_dir):
        notes += [f'removed {path}, a temporary file of an interrupted run'
                  for path in remove_stale_temp_files(opt['path']['experiments_root'])]
        iters = [int(name[:-len('.state')]) for name in scandir(state_dir, suffix='.state')
                 if name[:-len('.state')].isdigit()]
        for current_iter in sorted(iters, reverse=True):
            path = osp.join(state_dir, f'{current_iter}.state')
            try:
                return path, load_checkpoint_file(path), notes
            except CorruptCheckpointError as error:
                notes.append(f'passed over {error}; falling back to the previous state')
        if iters:
            notes.append(f'no complete training state in {state_dir}: training starts afresh')
    return None, None, notes


def save_training_state(opt, model, epoch, current_iter, sampler_position):
    """Write ``training_states/<iter>.state`` (rank 0 only)."""
    if opt['rank'] != 0:
        return
    state = {'epoch': epoch, 'iter': current_iter, 'sampler_position': sampler_position,
             'rng_states': get_rng_states(), **model.training_state()}
    save_checkpoint_file(state, osp.join(opt['path']['training_states'], f'{current_iter}.state'))
