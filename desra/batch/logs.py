"""The log of a command's run: a file of its own in the run folder, with the environment and options, as basicsr's
commands write them, and a quiet terminal.

The terminal shows DeSRA's own messages (one line per stage, the progress bars, the summary) and every warning; the
environment banner, the option dump and basicsr's own INFO messages (each network, loss and dataset it builds, whole
network structures) go to the log file only (:class:`ConsoleFilter`).
"""
import logging
import os

import basicsr
from basicsr.utils import get_env_info, get_root_logger, get_time_str
from basicsr.utils.options import dict2str

from desra.batch.failures import capped_lines
from desra.io.images import remove_stale_temp_files


#: ``extra`` of a log call whose message goes to the log file only.
FILE_ONLY = {'file_only': True}
#: Where basicsr's own modules are; their INFO messages are for the log file.
_BASICSR_FOLDER = os.path.dirname(os.path.abspath(basicsr.__file__)) + os.sep


class ConsoleFilter(logging.Filter):
    """Keeps off the terminal the messages logged with :data:`FILE_ONLY` and basicsr's own messages below WARNING."""

    def filter(self, record):
        if getattr(record, 'file_only', False):
            return False
        return record.levelno >= logging.WARNING or not os.path.abspath(record.pathname).startswith(_BASICSR_FOLDER)


def log_run_header(logger, opt):
    """Make the terminal of ``logger`` quiet (:class:`ConsoleFilter` on its terminal handlers) and write the run's
    environment banner and options to its log file."""
    terminals = [handler for handler in logger.handlers
                 if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler)]
    for handler in terminals:
        if not any(isinstance(existing, ConsoleFilter) for existing in handler.filters):
            handler.addFilter(ConsoleFilter())
    logger.info(get_env_info(), extra=FILE_ONLY)
    logger.info(dict2str(opt), extra=FILE_ONLY)


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


def open_log(logger_name, log_file):
    """basicsr's root logger ``logger_name`` (``get_root_logger``), writing to ``log_file`` (None: no file, the
    ranks other than 0). basicsr sets a logger up once per process and keeps its first file; a second run in one
    process (tests, scripts calling the commands) gets its own file: the earlier file handler is replaced.

    Returns:
        logging.Logger
    """
    logger = get_root_logger(logger_name=logger_name, log_level=logging.INFO, log_file=log_file)
    if log_file is not None:
        for handler in [h for h in logger.handlers if isinstance(h, logging.FileHandler)]:
            if handler.baseFilename != os.path.abspath(log_file):
                logger.removeHandler(handler)
                handler.close()
        if not any(isinstance(h, logging.FileHandler) for h in logger.handlers):
            file_handler = logging.FileHandler(log_file, 'w')
            file_handler.setFormatter(logger.handlers[0].formatter)
            logger.addHandler(file_handler)
            logger.setLevel(logging.INFO)
    return logger


def get_command_logger(opt, command):
    """The ``desra`` logger of a command, writing to its own ``<run>/<command>_<name>_<time>.log`` on rank 0
    (:func:`new_log_file`).

    Logs the environment and the options to the file only (:func:`log_run_header`). Rank 0 also removes the
    temporary files that a killed run left in the run folder (:func:`~desra.io.images.remove_stale_temp_files`)
    and logs them.
    """
    log_file = new_log_file(opt['path']['run_root'], f'{command}_{opt["name"]}') if opt['rank'] == 0 else None
    logger = open_log('desra', log_file)
    log_run_header(logger, opt)
    if opt['rank'] == 0:
        removed = remove_stale_temp_files(opt['path']['run_root'])
        if removed:
            logger.info(f'removed {len(removed)} temporary file(s) of an interrupted run:\n' + capped_lines(removed))
    return logger
