"""How DeSRA's commands end: a one-line message for a user's mistake, a traceback only for a bug."""
import sys

from desra.utils.checkpoint import CheckpointMismatchError

#: Errors that mean bad options, files or weights: shown as ``error: <message>`` with exit status 2.
USER_ERRORS = (FileNotFoundError, ValueError, KeyError, CheckpointMismatchError)


def run_main(main):
    """Call ``main()`` (which returns an exit status) and exit with it; user errors print one line and exit 2."""
    try:
        status = main()
    except USER_ERRORS as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f'error: {message}', file=sys.stderr)
        status = 2
    except KeyboardInterrupt:
        print('interrupted: finished outputs are kept; run the same command again to continue', file=sys.stderr)
        status = 130
    sys.exit(status)
