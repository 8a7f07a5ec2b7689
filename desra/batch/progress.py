"""Progress bars (tqdm) with one rule for every command: shown by rank 0 only, so that a torchrun job of N processes
draws one bar, not N interleaved ones; hidden when there are fewer than ``min_total`` steps. The rule does not
depend on whether the output is a terminal: a batch job's log shows the bar's updates too."""
from basicsr.utils.dist_util import get_dist_info
from tqdm import tqdm


def progress_bar(iterable, desc, unit, total=None, min_total=1, leave=True):
    """``tqdm(iterable)`` on rank 0 when it has at least ``min_total`` steps, a silent pass-through otherwise.

    Args:
        iterable (Iterable): What to iterate over.
        desc (str): Label of the bar.
        unit (str): Name of one step (``'img'``, ``'tile'``...).
        total (int | None): Number of steps (default ``len(iterable)``).
        min_total (int): Fewest steps worth a bar.
        leave (bool): Keep the finished bar on screen (False for inner bars, e.g. tiles of one image).
    """
    total = len(iterable) if total is None else total
    disable = total < min_total or get_dist_info()[0] != 0
    return tqdm(iterable, desc=desc, unit=unit, total=total, leave=leave, disable=disable)
