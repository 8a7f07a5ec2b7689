"""How paths relate: whether one folder lies within another, and what a path is when it is not what a user named.

One place for the checks that keep outputs apart from inputs (:mod:`desra.config.preflight` before a run,
:func:`desra.batch.run.remove_output_folder` before deleting stale outputs, ``desra/infer.py``'s flag mode).
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


def not_found(path, kind='file'):
    """Why ``path`` is not the ``kind`` (``'file'`` or ``'folder'``) a user named: ``'no such file'``, or what it is
    instead (``'a folder, not a file'``, ``'a file, not a folder'``), for one-line errors."""
    other = {'file': 'folder', 'folder': 'file'}[kind]
    exists_as_other = os.path.isdir(path) if kind == 'file' else os.path.isfile(path)
    return f'a {other}, not a {kind}' if exists_as_other else f'no such {kind}'
