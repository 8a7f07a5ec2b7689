"""DeSRA's commands: their console entry points and how every one of them ends.

Console scripts (``setup.py``): ``desra-detect``, ``desra-build-dataset``, ``desra-train``, ``desra-test``,
``desra-infer``, ``desra-options`` and ``desra-weights`` each run the ``main()`` of their command module
(:data:`COMMANDS`) through
:func:`run_main`, exactly as ``python -m desra.<command>`` and ``python desra/<command>.py`` do, with basicsr's
arguments (``-opt``, ``--force_yml``, ``--launcher``).

Exit statuses of every command:

* 0: everything was done;
* 1: some inputs failed (each named in the log with its problem), all the others were done and the run-level
  outputs (summary, report, ``meta_info.txt``) were written;
* 2: bad options, usage or files, or an operating-system error (missing file, disk full, read-only folder, a path
  that is a file): ``error: <message>`` on one line; nothing or not all was done;
* 130: interrupted (Ctrl-C); finished outputs are kept and the same command continues.

Set the environment variable ``DESRA_TRACEBACK=1`` to see the traceback of a user error.
"""
import os
import sys
from importlib import import_module

import yaml

from desra.weights.checkpoint import CheckpointMismatchError

#: Console script name -> module whose ``main()`` it runs.
COMMANDS = {'desra-detect': 'desra.detect', 'desra-build-dataset': 'desra.build_dataset', 'desra-train': 'desra.train',
            'desra-test': 'desra.test', 'desra-infer': 'desra.infer', 'desra-options': 'desra.option_templates',
            'desra-weights': 'desra.make_weights'}
#: Exit status when some inputs failed and the rest were done.
EXIT_INPUTS_FAILED = 1
#: Exit status for bad options, usage or files.
EXIT_USAGE = 2
#: Errors that mean bad options, files or weights, or a refusal of the operating system: shown as
#: ``error: <message>`` with exit status 2. TypeError comes from options of the wrong type (``train: ~``).
USER_ERRORS = (OSError, ValueError, KeyError, TypeError, yaml.YAMLError, CheckpointMismatchError)


def error_line(error):
    """One line (or a short block, for checkpoint mismatches) that says what went wrong, without a traceback."""
    if isinstance(error, KeyError) and error.args:
        return str(error.args[0])
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        target = f'{error.filename} -> {error.filename2}' if error.filename2 else error.filename
        return f'{target}: {error.strerror}'
    if isinstance(error, yaml.YAMLError):
        return f'malformed YAML: {" ".join(str(error).split())}'
    if isinstance(error, TypeError):
        return f'{error} (an option has the wrong type?)'
    return str(error) or type(error).__name__


def run_main(main):
    """Call ``main()`` (which returns an exit status) and exit with it; user errors print one line and exit 2."""
    try:
        status = main()
    except USER_ERRORS as error:
        if os.environ.get('DESRA_TRACEBACK'):
            raise
        print(f'error: {error_line(error)}', file=sys.stderr)
        status = EXIT_USAGE
    except KeyboardInterrupt:
        print('interrupted: finished outputs are kept; run the same command again to continue', file=sys.stderr)
        status = 130
    sys.exit(status)


def _entry_point(module):
    """A function that imports ``module`` and runs its ``main()`` as a command (never returns)."""

    def entry_point():
        run_main(import_module(module).main)

    entry_point.__doc__ = f'Run ``{module}.main()`` as a command.'
    return entry_point


detect = _entry_point(COMMANDS['desra-detect'])
build_dataset = _entry_point(COMMANDS['desra-build-dataset'])
train = _entry_point(COMMANDS['desra-train'])
test = _entry_point(COMMANDS['desra-test'])
infer = _entry_point(COMMANDS['desra-infer'])
options = _entry_point(COMMANDS['desra-options'])
weights = _entry_point(COMMANDS['desra-weights'])
