"""Console entry points: ``desra-detect``, ``desra-build-dataset``, ``desra-train``, ``desra-test``, ``desra-infer``.

Each runs the ``main()`` of its command module through :func:`desra.utils.cli.run_main` (a one-line message and exit
status 2 for a user's mistake), exactly as ``python -m desra.<command>`` and ``python desra/<command>.py`` do, with
basicsr's arguments (``-opt``, ``--force_yml``, ``--launcher``). ``desra-options`` lists and copies out the option
templates that ship with the package (:mod:`desra.option_templates`).
"""
from importlib import import_module

#: Console script name -> module whose ``main()`` it runs.
COMMANDS = {'desra-detect': 'desra.detect', 'desra-build-dataset': 'desra.build_dataset', 'desra-train': 'desra.train',
            'desra-test': 'desra.test', 'desra-infer': 'desra.infer', 'desra-options': 'desra.option_templates'}


def _entry_point(module):
    """A function that imports ``module`` and runs its ``main()`` as a command (never returns)."""

    def entry_point():
        from desra.utils.cli import run_main
        run_main(import_module(module).main)

    entry_point.__doc__ = f'Run ``{module}.main()`` as a command.'
    return entry_point


detect = _entry_point(COMMANDS['desra-detect'])
build_dataset = _entry_point(COMMANDS['desra-build-dataset'])
train = _entry_point(COMMANDS['desra-train'])
test = _entry_point(COMMANDS['desra-test'])
infer = _entry_point(COMMANDS['desra-infer'])
options = _entry_point(COMMANDS['desra-options'])
