"""What every batch command over images shares: the log, SR results made on demand, ranks, per-image failures.

A batch processes each image independently. An image that cannot be processed (unreadable, too large, truncated,
sizes that do not match, too small...) raises ``ValueError`` with a message naming its files (or a memory or decoder
error, :data:`~desra.utils.image_names.PER_IMAGE_ERRORS`); the batch records it, goes on with the rest and reports
all failures at the end (exit status 1, :mod:`desra.utils.cli`). Under torchrun (``--launcher pytorch``) rank ``r``
of ``world_size`` takes the images ``i`` with ``i % world_size == r`` and the failures of all ranks are gathered, so
that rank 0 can write the run-level outputs and every rank exits with the same status.
"""
import json
import logging
import os
import shutil
import time
from functools import partial

import torch.distributed as dist
from basicsr.utils import get_env_info, get_root_logger, get_time_str
from basicsr.utils.options import dict2str
from tqdm.contrib.logging import logging_redirect_tqdm

from desra.inference import build_upsampler, upscale_decoded
from desra.utils.image_names import PER_IMAGE_ERRORS, capped_lines, failure_of
from desra.utils.img_io import decode_image, read_image, remove_stale_temp_files, write_text
from desra.utils.made_with import describe_changes, network_made_with, read_json_record
from desra.utils.paths import input_folders, overlap
from desra.utils.pipeline import BackgroundWriter, Prefetcher, pipeline_options
from desra.utils.progress import progress_bar


def new_log_file(folder, stem):
    """Create and return ``<folder>/<stem>_<time>.log``, a file no other run has: when a run started in the same
    second took that name, ``_2``, ``_3``, ... are appended (claimed with an exclusive create, so two processes never
    share a file)."""
    os.makedirs(folder, exist_ok=True)
    base = os.path.join(folder, f'{stem}_{get_time_str()}')
    for index in range(1, 10000):
        path = f'{base}.log' if index == 1 else f'{base}_{index}.log'
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f'{base}.log: 9999 runs started in this second')


def get_command_logger(opt, command):
    """The ``desra`` logger of a command, writing to its own ``<run>/<command>_<name>_<time>.log`` on rank 0
    (:func:`new_log_file`).

    Logs the environment and the options, as basicsr's commands do. Rank 0 also removes the temporary files that a
    killed run left in the run folder (:func:`~desra.utils.img_io.remove_stale_temp_files`) and logs them.
    """
    log_file = new_log_file(opt['path']['run_root'], f'{command}_{opt["name"]}') if opt['rank'] == 0 else None
    logger = get_root_logger(logger_name='desra', log_file=log_file)
    if log_file is not None:  # a second command in one process: basicsr keeps the first file; move to the new one
        for handler in [h for h in logger.handlers if isinstance(h, logging.FileHandler)]:
            if handler.baseFilename != os.path.abspath(log_file):
                logger.removeHandler(handler)
                handler.close()
        if not any(isinstance(h, logging.FileHandler) for h in logger.handlers):
            file_handler = logging.FileHandler(log_file, 'w')
            file_handler.setFormatter(logger.handlers[0].formatter)
            logger.addHandler(file_handler)
            logger.setLevel(logging.INFO)
    logger.info(get_env_info())
    logger.info(dict2str(opt))
    if opt['rank'] == 0:
        removed = remove_stale_temp_files(opt['path']['run_root'])
        if removed:
            logger.info(f'removed {len(removed)} temporary file(s) of an interrupted run:\n' + capped_lines(removed))
    return logger


def require_images(count, sources):
    """Refuse a run that found no image at all.

    Args:
        count (int): Images found (including those that cannot be used).
        sources (str): Where they were looked for, for the message.

    Raises:
        ValueError: ``count`` is 0.
    """
    if count == 0:
        raise ValueError(f'no images found in {sources}; check the dataroot options (and meta_info_file)')


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

    def made_with(self, role):
        """What shapes ``role``'s results (:func:`~desra.utils.made_with.network_made_with`)."""
        return network_made_with(self.opt, role)

    def discard_stale(self, run_root, logger):
        """Delete the cached results of each role whose network options or weights differ from those that made them.

        ``<run_root>/sr_<role>/.made_with.json`` records :meth:`made_with` of the cached results; a cache without it
        is from an older DeSRA and is also remade. Rank 0 works, the other ranks wait for it.
        """
        if self.opt['rank'] == 0:
            for role in self.roles:
                folder = os.path.join(run_root, f'sr_{role}')
                stamp = os.path.join(folder, '.made_with.json')
                current = self.made_with(role)
                earlier = read_json_record(stamp)
                if earlier != current and os.path.isdir(folder) and os.listdir(folder):
                    changes = '; '.join(describe_changes(earlier, current)) if earlier else 'not recorded'
                    logger.warning(f'{folder} holds results of other network_{role} options or weights ({changes}): '
                                   'deleted, they are made again')
                    remove_output_folder(folder, [root for _, root in input_folders(self.opt)])
                if earlier != current:
                    write_text(stamp, json.dumps(current, indent=1))
        if self.opt['dist']:
            dist.barrier()

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


def remove_output_folder(folder, inputs):
    """Delete ``folder``, a run's own output folder, unless it is, holds or lies inside one of the folders ``inputs``.

    Raises:
        ValueError: ``folder`` overlaps an input folder (nothing is deleted; the message names both).
    """
    for input_folder in filter(None, inputs):
        if overlap(folder, input_folder):
            raise ValueError(f'{folder} holds outputs made with other options, but it overlaps the input folder '
                             f'{input_folder}: refusing to delete it; use separate input and output folders')
    shutil.rmtree(folder, ignore_errors=True)


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
        process (callable): ``process(item)``; raises ``ValueError`` (naming the files) for an image it cannot use
            (or another of :data:`~desra.utils.image_names.PER_IMAGE_ERRORS`).
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
                except PER_IMAGE_ERRORS as error:
                    failures.append(failure_of(item.name, error))
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
    """Log the failures of the whole run (the first :data:`~desra.utils.image_names.MAX_LISTED_FAILURES`, then a
    count; each was logged when it happened) and return the exit status: 0 when none, 1 otherwise.

    Under torchrun, waits until every rank (rank 0 writing the run-level outputs) got here, so that no rank's exit
    interrupts another.
    """
    if failures:
        lines = capped_lines([str(failure) for failure in failures])
        if opt['rank'] == 0:
            logger.error(f'{len(failures)} image(s) could not be processed and were skipped:\n{lines}')
    else:
        logger.info('all images processed')
    if opt['dist']:
        dist.barrier()
        dist.destroy_process_group()
    return 1 if failures else 0
