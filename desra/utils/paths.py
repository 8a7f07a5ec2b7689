"""How folders relate: the input folders an option set names, and whether one folder lies within another.

One place for the checks that keep outputs apart from inputs (:mod:`desra.utils.preflight` before a run,
:func:`desra.utils.batch.remove_output_folder` before deleting stale outputs, ``desra/infer.py``'s flag mode).
Paths are compared after ``~`` expansion and symbolic-link resolution.
"""
import os


def real_path(path):
    """``path`` with ``~`` expanded and every symbolic link resolved (absolute)."""
    return os.path.realpath(os.path.expanduser(os.fspath(path)))


def is_within(path, folder):
    """Whether ``path`` is ``folder`` or lies inside it (after :func:`real_path` of both)."""
    path, folder = real_path(path), real_path(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def overlap(first, second):
    """Whether two folders are the same or one lies inside the other."""
    return is_within(first, second) or is_within(second, first)


def input_folders(opt):
    """``(key path, folder)`` of every ``dataroot_*`` string under ``datasets:`` (the folders a command reads)."""
    folders = []
    for phase, dataset in (opt.get('datasets') or {}).items():
        if not isinstance(dataset, dict):
            continue
        for key, value in dataset.items():
            if key.startswith('dataroot_') and isinstance(value, str) and value:
                folders.append((f'datasets:{phase}:{key}', value))
    return folders


def not_found(path, kind='file'):
    """Why ``path`` is not the ``kind`` (``'file'`` or ``'folder'``) a user named: ``'no such file'``, or what it is
    instead (``'a folder, not a file'``, ``'a file, not a folder'``), for one-line errors."""
    other = {'file': 'folder', 'folder': 'file'}[kind]
    exists_as_other = os.path.isdir(path) if kind == 'file' else os.path.isfile(path)
    return f'a {other}, not a {kind}' if exists_as_other else f'no such {kind}'
