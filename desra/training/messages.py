"""The training's progress line every ``logger: print_freq`` iterations, in basicsr's form, with a right ETA.

basicsr's ``MessageLogger`` divides the time since the first iteration by one iteration too many and counts one
remaining iteration too few, so the last line of a run reads ``eta: -1 day, 23:59:59``. Here the time per iteration
is the wall time since the first logged reference point divided by the iterations made since, and the ETA that times
the iterations left (0 at the end).
"""
import datetime
import time

from basicsr.utils import get_root_logger


class IterationMessages:
    """Logs ``[<name>..][epoch: e, iter: i, lr:(...)] [eta: h:mm:ss, time (data): t (d)] l_g_pix: ...`` and writes the
    losses to tensorboard (``losses/<name>`` for ``l_*``, else ``<name>``), as basicsr's ``MessageLogger`` does.

    Args:
        opt (dict): The training options (``name``, ``train: total_iter``, ``logger: use_tb_logger``).
        start_iter (int): The iteration the run starts (or resumes) from.
        tb_logger (SummaryWriter | None): Tensorboard writer (rank 0, ``use_tb_logger``).
    """

    def __init__(self, opt, start_iter, tb_logger=None):
        self.name = opt['name']
        self.total_iters = int(opt['train']['total_iter'])
        self.tb_logger = tb_logger if opt['logger'].get('use_tb_logger') and 'debug' not in self.name else None
        self.mark(start_iter)

    def mark(self, current_iter):
        """Time the ETA from now, with ``current_iter`` iterations done (after the first iteration, which also
        builds the optimizer states and warms the kernels up)."""
        self.mark_iter, self.mark_time = current_iter, time.time()

    def eta_seconds(self, current_iter):
        """Seconds left for the iterations after ``current_iter`` at the mean pace since :meth:`mark` (0 when no
        iteration was timed yet or none is left)."""
        done = current_iter - self.mark_iter
        if done <= 0:
            return 0.0
        return (time.time() - self.mark_time) / done * max(self.total_iters - current_iter, 0)

    def __call__(self, epoch, current_iter, lrs, iter_time, data_time, losses):
        """Log one line (rank 0; the caller logs on rank 0 only).

        Args:
            epoch (int), current_iter (int): Where the run is.
            lrs (list[float]): The generator's (and discriminator's) learning rates.
            iter_time (float), data_time (float): Mean seconds per iteration and of its data loading.
            losses (dict[str, float]): The loss terms and discriminator outputs of the iteration.
        """
        eta = datetime.timedelta(seconds=int(round(self.eta_seconds(current_iter))))
        message = (f'[{self.name[:5]}..][epoch:{epoch:3d}, iter:{current_iter:8,d}, lr:('
                   + ''.join(f'{lr:.3e},' for lr in lrs) + f')] [eta: {eta}, time (data): {iter_time:.3f} '
                   f'({data_time:.3f})] ' + ' '.join(f'{key}: {value:.4e}' for key, value in losses.items()))
        get_root_logger().info(message)
        if self.tb_logger is not None:
            for key, value in losses.items():
                self.tb_logger.add_scalar(f'losses/{key}' if key.startswith('l_') else key, value, current_iter)
