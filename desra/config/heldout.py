"""The held-out test images must not be the images that chose the checkpoint under test.

A fine-tuning run with ``val: select:`` (:mod:`desra.training.selection`) records the images its validation measured
in ``selection.json`` beside its checkpoints. The test command refuses, before any run folder exists, a test set
that shares an image (by name: the path relative to the LR folder, without extension) with the validation set of
the run that wrote ``path:pretrain_network_finetuned``: figures on such images would reward the selection for what
it saw.
"""
import os

from desra.config.schema import OptionError
from desra.io.names import index_images, read_name_list, stem_of
from desra.training.selection import read_record


def test_image_names(dataset):
    """The names of the images of a ``datasets:test`` entry: its ``meta_info_file`` list, else every image of
    ``dataroot_lq`` (LR mode) or of ``dataroot_gan`` (SR results on disk)."""
    if dataset.get('meta_info_file'):
        return {stem_of(name) for name in read_name_list(dataset['meta_info_file'], dataset.get('meta_info_key'))}
    root = dataset.get('dataroot_lq') or dataset.get('dataroot_gan')
    return set(index_images(root, 'test')) if root else set()


def check_heldout_apart(opt, source):
    """Refuse a test set that overlaps the validation images of the fine-tuned checkpoint's run (module docstring).

    Raises:
        OptionError: The shared images, named (the first 10) with the record that lists them.
    """
    checkpoint = (opt.get('path') or {}).get('pretrain_network_finetuned')
    record_path, record = read_record(checkpoint) if checkpoint else (None, None)
    if not record:
        return
    shared = sorted(set(record.get('images') or ()) & test_image_names(opt['datasets']['test']))
    if shared:
        names = ', '.join(shared[:10]) + (f' and {len(shared) - 10} more' if len(shared) > 10 else '')
        raise OptionError(f'{source}: {len(shared)} test image(s) are validation images of the run that selected '
                          f'{os.path.basename(checkpoint)} ({record_path}): {names}; evaluate on held-out images '
                          'that neither fine-tuning nor its validation saw (datasets:test)')
