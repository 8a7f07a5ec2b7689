"""List or copy out the files shipped with DeSRA: ``desra-options list | copy DEST [NAME ...] | demo [DEST]``.

``list`` and ``copy`` are the option templates, ``demo`` the demo data (LR / HR images, splits, the tail of the
demo's MSE model; default destination ``datasets/demo``, where ``options/demo/*.yml`` look). The same as
``python -m desra.option_templates ...``; what is shipped and how it is found: :mod:`desra.config.shipped`.
"""
import argparse
import os

from desra.commands import run_main
from desra.config.shipped import copy_shipped, list_shipped


def main(args=None):
    """``desra-options list | copy DEST [NAME ...] [--force] | demo [DEST] [--force]``; returns the exit status."""
    parser = argparse.ArgumentParser(description='List or copy out the option templates and demo data shipped with '
                                                 'DeSRA.')
    commands = parser.add_subparsers(dest='command', required=True)
    commands.add_parser('list', help='print the template names')
    copy = commands.add_parser('copy', help='copy templates into a folder')
    copy.add_argument('dest', help='target folder, created when missing')
    copy.add_argument('names', nargs='*', help='templates to copy (default: all), as "desra-options list" prints')
    copy.add_argument('--force', action='store_true', help='overwrite existing files')
    demo = commands.add_parser('demo', help='copy the demo data (images, splits, the demo MSE model\'s tail)')
    demo.add_argument('dest', nargs='?', default=os.path.join('datasets', 'demo'),
                      help='target folder (default: datasets/demo, where options/demo/*.yml look)')
    demo.add_argument('--force', action='store_true', help='overwrite existing files')
    args = parser.parse_args(args)
    if args.command == 'list':
        print('\n'.join(list_shipped('options')))
        return 0
    kind, names = ('options', args.names) if args.command == 'copy' else ('demo', None)
    written, kept = copy_shipped(kind, args.dest, names, args.force)
    for path in written:
        print(f'wrote {path}')
    for path in kept:
        print(f'kept {path} (exists; --force overwrites)')
    return 0


if __name__ == '__main__':
    run_main(main)
