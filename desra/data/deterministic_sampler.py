"""A sampler whose every sample carries its own seed, so that a resumed run sees exactly the crops of an unbroken one.

basicsr's ``EnlargedSampler`` fixes *which* images an epoch visits, but the crops and flips come from each worker's
global random state, which depends on how many samples the worker has drawn since it started; a run resumed in the
middle of an epoch therefore sees other crops. :class:`DeterministicSampler` yields ``(index, sample_seed)`` pairs
instead of indices, and :class:`~desra.data.desra_dataset.DeSRADataset` draws all of a sample's randomness from
``np.random.default_rng(sample_seed)``. A sample is then a pure function of ``(seed, epoch, position)``, whatever
the number of workers, the batch size or where the run was interrupted.

Order of epoch ``e`` (``n = dataset_len * enlarge_ratio`` positions, ``N`` = ``n`` padded up to a multiple of
``num_replicas``):

* ``perm = np.random.default_rng([seed, e]).permutation(n)``, then padded to ``N`` by repeating it from its start;
* position ``p`` (``0 <= p < N``) gives ``index = perm[p] % dataset_len`` and
  ``sample_seed = sample_seed(seed, e, p)`` (:func:`sample_seed`);
* rank ``r`` takes positions ``r, r + num_replicas, r + 2 * num_replicas, ...`` (``N / num_replicas`` of them),
  so the ranks' shares are disjoint and together cover every position.

Use it as a DataLoader's ``sampler`` (``shuffle`` off); batches hold only the dataset's dicts, since the default
collate never sees the pairs, which are consumed by ``dataset[(index, sample_seed)]``::

    sampler = DeterministicSampler(len(dataset), seed=opt['manual_seed'], num_replicas=world_size, rank=rank,
                                   enlarge_ratio=100)
    loader = DataLoader(dataset, batch_size=4, sampler=sampler, num_workers=4, drop_last=True)
    sampler.set_epoch(epoch)
    sampler.set_start(samples_done_this_epoch)  # on resume: skip what this rank has already trained on
"""
import math

import numpy as np
from torch.utils.data.sampler import Sampler


def sample_seed(seed, epoch, position):
    """The seed of the sample at ``position`` of ``epoch``: a uint64 from ``np.random.SeedSequence``, as an int."""
    return int(np.random.SeedSequence([seed, epoch, position]).generate_state(1, dtype=np.uint64)[0])


class DeterministicSampler(Sampler):
    """Yields ``(index, sample_seed)`` pairs in a seeded order per epoch, sharded across ranks (module docstring).

    Args:
        dataset_len (int): Number of samples in the dataset, at least 1.
        seed (int): Non-negative base seed (``manual_seed``).
        num_replicas (int): Number of ranks (processes) sharing the epoch.
        rank (int): This process's rank, in ``[0, num_replicas)``.
        enlarge_ratio (int): Each epoch visits every sample this many times (basicsr's ``dataset_enlarge_ratio``).

    Attributes:
        num_samples (int): Samples per rank per full epoch, ``ceil(dataset_len * enlarge_ratio / num_replicas)``.
        epoch (int): The epoch :meth:`__iter__` yields.
        start (int): Samples of this rank's epoch skipped by :meth:`__iter__`.
    """

    def __init__(self, dataset_len, seed, num_replicas=1, rank=0, enlarge_ratio=1):
        if dataset_len < 1:
            raise ValueError(f'DeterministicSampler: dataset_len must be at least 1, got {dataset_len}')
        if seed < 0:
            raise ValueError(f'DeterministicSampler: seed must be non-negative, got {seed}')
        if not 0 <= rank < num_replicas:
            raise ValueError(f'DeterministicSampler: rank {rank} is not in [0, num_replicas={num_replicas})')
        if enlarge_ratio < 1:
            raise ValueError(f'DeterministicSampler: enlarge_ratio must be at least 1, got {enlarge_ratio}')
        self.dataset_len = int(dataset_len)
        self.seed = int(seed)
        self.num_replicas = int(num_replicas)
        self.rank = int(rank)
        self.epoch_size = self.dataset_len * int(enlarge_ratio)
        self.num_samples = math.ceil(self.epoch_size / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas
        self.epoch = 0
        self.start = 0

    def __iter__(self):
        perm = np.random.default_rng([self.seed, self.epoch]).permutation(self.epoch_size)
        perm = np.resize(perm, self.total_size)  # pads by repeating the permutation from its start
        for position in range(self.rank + self.start * self.num_replicas, self.total_size, self.num_replicas):
            yield int(perm[position] % self.dataset_len), sample_seed(self.seed, self.epoch, position)

    def __len__(self):
        """Number of pairs the next iteration yields: ``num_samples - start``."""
        return self.num_samples - self.start

    def set_epoch(self, epoch):
        """Iterate over epoch ``epoch`` from its beginning (``start`` back to 0)."""
        self.epoch = int(epoch)
        self.start = 0

    def set_start(self, position):
        """Skip the first ``position`` samples of this rank's current epoch (nothing is loaded for them).

        Raises:
            ValueError: ``position`` is not in ``[0, num_samples]``.
        """
        if not 0 <= position <= self.num_samples:
            raise ValueError(f'DeterministicSampler: start {position} is not in [0, num_samples={self.num_samples}]')
        self.start = int(position)
