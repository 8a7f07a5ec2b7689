"""The per-image loop of every batch command (detect, build_dataset, test): ranks, per-image failures, exit status.

A batch processes each image independently. An image that cannot be processed (unreadable, too large, truncated,
sizes that do not match, too small...) raises ``ValueError`` with a message naming its files (or a memory or decoder
error, :data:`~desra.batch.failures.PER_IMAGE_ERRORS`); the batch records it, goes on with the rest and reports
all failures at the end (exit status 1, :mod:`desra.commands`). Under torchrun (``--launcher pytorch``) rank ``r``
of ``world_size`` takes the images ``i`` with ``i % world_size == r`` and the failures of all ranks are gathered, so
that rank 0 can write the run-level outputs and every rank exits with the same status.
"""
import shutil
import time

import torch.distributed as dist
from tqdm.contrib.logging import logging_redirect_tqdm

from desra.batch.failures import PER_IMAGE_ERRORS, capped_lines, failure_of
from desra.batch.pipeline import BackgroundWriter, pipeline_options
from desra.batch.progress import progress_bar
from desra.io.paths import overlap


def require_images(usable, failures, sources):
    """Refuse a run that has no image it can use, before its folder is made.

    Args:
        usable (int): Images that can be processed.
        failures (list[Failure]): Images found that cannot be used (no counterpart, a shared name...).
        sources (str): Where they were looked for, for the message.

    Raises:
        ValueError: ``usable`` is 0: no image found at all, or only unusable ones (the first of them listed).
    """
    if usable:
        return
    if not failures:
        raise ValueError(f'no images found in {sources}; check the dataroot options (and meta_info_file)')
    raise ValueError(f'none of the {len(failures)} images found in {sources} can be used; check the dataroot options '
                     f'and the names:\n' + capped_lines([str(failure) for failure in failures], limit=5))


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

    With the ``pipeline`` options (:mod:`desra.batch.pipeline`) the images are loaded ``pipeline: prefetch`` ahead
    by ``prefetch`` and the files ``process`` writes are written by a background thread while the next image is
    processed; ``prefetch: 0`` and ``write_queue: 0`` give a serial run.

    Args:
        items (list[ImageItem]): All images of the run (the rank takes its share).
        process (callable): ``process(item)``; raises ``ValueError`` (naming the files) for an image it cannot use
            (or another of :data:`~desra.batch.failures.PER_IMAGE_ERRORS`).
        is_done (callable): ``is_done(item)``: whether the image's outputs are complete from an earlier run.
        opt (dict): The command's options (``rank``, ``world_size``, ``overwrite``, ``pipeline``).
        logger (logging.Logger): Receives one warning per failure.
        desc (str): Label of the progress bar.
        prefetch (callable | None): ``prefetch(todo, depth)`` starts loading the images to do, in order, ``depth``
            ahead, so that ``process`` finds them loaded; it returns an object whose ``close()`` stops it
            (:meth:`desra.inference.sr_cache.SRCache.prefetch`).

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
    """Log the failures of the whole run (the first :data:`~desra.batch.failures.MAX_LISTED_FAILURES`, then a
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
