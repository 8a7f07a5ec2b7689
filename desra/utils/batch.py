"""What every batch command over images shares: the log, SR results made on demand, ranks, per-image failures.

A batch processes each image independently. An image that cannot be processed (unreadable, sizes that do not
match, too small...) raises ``ValueError`` with a message naming its files; the batch records it, goes on with the
rest and reports all failures at the end. Under torchrun (``--launcher pytorch``) rank ``r`` of ``world_size``
takes the images ``i`` with ``i % world_size == r`` and the failures of all ranks are gathered, so that rank 0 can
write the run-level outputs and every rank exits with the same status.
"""
import os
import time
from functools import partial

import torch.distributed as dist
from basicsr.utils import get_env_info, get_root_logger, get_time_str
from basicsr.utils.options import dict2str
from tqdm.contrib.logging import logging_redirect_tqdm

from desra.inference import build_upsampler, upscale_decoded
from desra.utils.image_names import Failure
from desra.utils.img_io import decode_image, read_image
from desra.utils.pipeline import BackgroundWriter, Prefetcher, pipeline_options
from desra.utils.progress import progress_bar


def get_command_logger(opt, command):
    """The ``desra`` logger of a command, writing to ``<run>/<command>_<name>_<time>.log`` on rank 0.

    Logs the environment and the options, as basicsr's commands do.
    """
    log_file = os.path.join(opt['path']['run_root'], f'{command}_{opt["name"]}_{get_time_str()}.log')
    logger = get_root_logger(logger_name='desra', log_file=log_file if opt['rank'] == 0 else None)
    logger.info(get_env_info())
    logger.info(dict2str(opt))
    return logger


class SRCache:
    """The results of a run's SR networks for its LR images, made when first needed and kept as PNG files.

    The network of role ``r`` is ``network_<r>`` with weights ``path.pretrain_network_<r>`` (see
    :func:`desra.inference.build_upsampler`); it is only built when some result of it is missing. An LR image is read
    and decoded once, however many of its results are missing, and given to each of their networks. A result is
    written atomically with the depth and channels of its LR image (16-bit stays 16-bit, alpha is kept), so a complete
    file is always a finished result and a rerun reuses it.

    Args:
        opt (dict): The command's options.
        roles (tuple[str]): The results each image needs, from ``'mse'``, ``'gan'`` and ``'finetuned'``.
        device (torch.device): Where the networks run.
    """

    def __init__(self, opt, roles, device):
        self.opt = opt
        self.roles = tuple(roles)
        self.device = device
        self._upsamplers = {}
        self._prefetcher = None

    def load_network(self, role):
        """The :class:`desra.inference.TiledUpsampler` of ``role``'s network, built on first call.

        Raises:
            KeyError / FileNotFoundError: The network options or weights are missing (the message names them).
        """
        if role not in self._upsamplers:
            self._upsamplers[role] = build_upsampler(self.opt, role, self.device)
        return self._upsamplers[role]

    def missing_roles(self, item, overwrite=False):
        """The roles whose result ``item.sr_paths[role]`` does not exist yet (all roles with ``overwrite``)."""
        return [role for role in self.roles if overwrite or not os.path.isfile(item.sr_paths[role])]

    def prepare(self, items, overwrite=False):
        """Build now the networks that ``items`` need, so that option errors stop the run before it starts."""
        needed = {role for item in items for role in self.missing_roles(item, overwrite)}
        for role in self.roles:
            if role in needed:
                self.load_network(role)

    def ensure(self, item, overwrite=False):
        """Make the missing results of ``item`` (all of them with ``overwrite``) from ``item.lq_path``, read once; or,
        after :meth:`prefetch`, wait for the loader thread to have made them.

        Returns:
            DecodedImage | None: The LR image when it had to be read (for the caller's other uses), else None.

        Raises:
            ImageReadError: The LR image cannot be read (the message names it).
        """
        if self._prefetcher is not None:
            return self._prefetcher.get(item)
        return self.make_missing(item, overwrite)

    def make_missing(self, item, overwrite=False):
        """What :meth:`ensure` returns, made now in the calling thread."""
        missing = self.missing_roles(item, overwrite)
        if not missing:
            return None
        lq = decode_image(read_image(item.lq_path))
        for role in missing:
            upscale_decoded(self.load_network(role), lq, item.sr_paths[role])
        return lq

    def prefetch(self, items, depth):
        """Make the results of ``items`` (in this order, ``depth`` images ahead) on a loader thread from now on;
        :meth:`ensure` must then be called for them in the same order. Returns self, for :meth:`close`."""
        self._prefetcher = Prefetcher(partial(self.make_missing, overwrite=self.opt.get('overwrite', False)), items,
                                      depth)
        return self

    def close(self):
        """Stop the loader thread of :meth:`prefetch`; :meth:`ensure` works in the calling thread again."""
        if self._prefetcher is not None:
            self._prefetcher.close()
            self._prefetcher = None


def shard(items, opt):
    """The items of this rank: every ``world_size``-th one from index ``rank``."""
    return items[opt['rank']::opt['world_size']]


def run_batch(items, process, is_done, opt, logger, desc, prefetch=None):
    """Process this rank's share of ``items`` with a progress bar (on rank 0), loading ahead and writing behind.

    With the ``pipeline`` options (:mod:`desra.utils.pipeline`) the images are loaded ``pipeline: prefetch`` ahead
    by ``prefetch`` and the files ``process`` writes are written by a background thread while the next image is
    processed; ``prefetch: 0`` and ``write_queue: 0`` give a serial run.

    Args:
        items (list[ImageItem]): All images of the run (the rank takes its share).
        process (callable): ``process(item)``; raises ``ValueError`` (naming the files) for an image it cannot use.
        is_done (callable): ``is_done(item)``: whether the image's outputs are complete from an earlier run.
        opt (dict): The command's options (``rank``, ``world_size``, ``overwrite``, ``pipeline``).
        logger (logging.Logger): Receives one warning per failure.
        desc (str): Label of the progress bar.
        prefetch (callable | None): ``prefetch(todo, depth)`` starts loading the images to do, in order, ``depth``
            ahead, so that ``process`` finds them loaded; it returns an object whose ``close()`` stops it
            (:meth:`SRCache.prefetch`).

    Returns:
        list[Failure]: The images of this rank that failed (also those whose outputs could not be written).
    """
    mine = shard(items, opt)
    todo = mine if opt.get('overwrite', False) else [item for item in mine if not is_done(item)]
    if len(todo) < len(mine):
        logger.info(f'{len(mine) - len(todo)} of {len(mine)} images already done in an earlier run: skipped '
                    '(set overwrite: true to redo them)')
    pipeline = pipeline_options(opt)
    failures = []
    start = time.time()
    writer = BackgroundWriter(pipeline['write_queue'])
    loader = prefetch(todo, pipeline['prefetch']) if prefetch is not None and pipeline['prefetch'] and todo else None
    try:
        with logging_redirect_tqdm([logger]):
            for item in progress_bar(todo, desc, 'img'):
                try:
                    with writer.deferring(item.name):
                        process(item)
                except ValueError as error:
                    failures.append(Failure(item.name, str(error)))
                    logger.warning(f'skipped {failures[-1]}')
    finally:
        if loader is not None:
            loader.close()
        writer.close()
    failed = {failure.name for failure in failures}
    for failure in writer.failures:
        if failure.name not in failed:
            failures.append(failure)
            logger.warning(f'skipped {failure}')
    logger.info(f'{len(todo) - len(failures)} images processed in {time.time() - start:.1f} s')
    return failures


def gather_failures(failures, opt):
    """All ranks' failures, on every rank (a barrier under torchrun; the list itself when not distributed)."""
    if not opt['dist']:
        return list(failures)
    gathered = [None] * opt['world_size']
    dist.all_gather_object(gathered, list(failures))
    return [failure for rank_failures in gathered for failure in rank_failures]


def finish(failures, opt, logger):
    """Log the failures of the whole run and return the exit status: 0 when none, 1 otherwise.

    Under torchrun, waits until every rank (rank 0 writing the run-level outputs) got here, so that no rank's exit
    interrupts another.
    """
    if failures:
        lines = '\n'.join(f'  - {failure}' for failure in failures)
        if opt['rank'] == 0:
            logger.error(f'{len(failures)} image(s) could not be processed and were skipped:\n{lines}')
    else:
        logger.info('all images processed')
    if opt['dist']:
        dist.barrier()
        dist.destroy_process_group()
    return 1 if failures else 0
