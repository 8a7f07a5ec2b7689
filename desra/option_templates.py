"""The option templates shipped with the package: ``desra-options list`` and ``desra-options copy DEST [NAME ...]``.

The YAML files of the repository's ``options/`` (``detect.yml``, ``finetune_realesrgan_x4plus.yml``, ...,
``demo/*.yml``) are installed as package data under ``desra/options/`` (in a checkout, ``desra/options`` is a
symbolic link to ``../options``, so there is one copy of each file). After ``pip install desra`` they are copied out
to be edited and passed to ``-opt``::

    desra-options list                      # the template names, e.g. detect.yml, demo/detect.yml
    desra-options copy options              # all of them into ./options/ (existing files are kept)
    desra-options copy . detect.yml         # one of them into ./detect.yml
    python -m desra.option_templates copy options --force   # the same command, overwriting

Relative paths inside the templates (``datasets/...``, ``experiments/pretrained_models/...``) are resolved against
the folder the command runs in, as ``results/`` and ``experiments/`` are.
"""
import argparse
import os
import shutil
from importlib.resources import as_file, files

from desra.utils.img_io import atomic_output


def templates_root():
    """The packaged ``options`` folder (an ``importlib.resources`` Traversable)."""
    return files('desra').joinpath('options')


def list_templates():
    """The names of the shipped templates, relative to the options folder with ``/`` separators, sorted.

    Returns:
        list[str]: E.g. ``['build_dataset.yml', 'demo/detect.yml', 'detect.yml', ...]``.
    """
    names = []
    pending = [(templates_root(), '')]
    while pending:
        folder, prefix = pending.pop()
        for entry in folder.iterdir():
            if entry.is_dir():
                pending.append((entry, f'{prefix}{entry.name}/'))
            elif entry.name.endswith('.yml'):
                names.append(prefix + entry.name)
    return sorted(names)


def copy_templates(dest, names=None, force=False):
    """Copy templates into ``dest``, keeping their relative paths (``demo/detect.yml`` -> ``dest/demo/detect.yml``).

    Args:
        dest (str): Target folder (created).
        names (list[str] | None): Template names from :func:`list_templates`; None = all.
        force (bool): Overwrite files that exist (otherwise they are kept and reported).

    Returns:
        tuple[list[str], list[str]]: The paths written and the paths kept because they existed.

    Raises:
        ValueError: A name is not a shipped template (the message lists the available ones).
    """
    available = list_templates()
    unknown = [name for name in names or [] if name not in available]
    if unknown:
        raise ValueError(f'no option template {", ".join(unknown)}; available: {", ".join(available)}')
    written, kept = [], []
    for name in names or available:
        target = os.path.join(dest, *name.split('/'))
        if os.path.exists(target) and not force:
            kept.append(target)
            continue
        with as_file(templates_root().joinpath(*name.split('/'))) as source, atomic_output(target) as tmp_path:
            shutil.copyfile(source, tmp_path)
        written.append(target)
    return written, kept


def main(args=None):
    """``desra-options list | copy DEST [NAME ...] [--force]``; returns the exit status."""
    parser = argparse.ArgumentParser(description='List or copy out the option templates shipped with DeSRA.')
    commands = parser.add_subparsers(dest='command', required=True)
    commands.add_parser('list', help='print the template names')
    copy = commands.add_parser('copy', help='copy templates into a folder')
    copy.add_argument('dest', help='target folder, created when missing')
    copy.add_argument('names', nargs='*', help='templates to copy (default: all), as "desra-options list" prints')
    copy.add_argument('--force', action='store_true', help='overwrite existing files')
    args = parser.parse_args(args)
    if args.command == 'list':
        print('\n'.join(list_templates()))
        return 0
    written, kept = copy_templates(args.dest, args.names, args.force)
    for path in written:
        print(f'wrote {path}')
    for path in kept:
        print(f'kept {path} (exists; --force overwrites)')
    return 0


if __name__ == '__main__':
    from desra.utils.cli import run_main
    run_main(main)
