"""Overlap a batch's reading, computing and writing: a prefetching loader thread and a background writer thread.

A batch over images (:func:`desra.batch.run.run_batch`) is, per image, read -> compute -> write. With the
``pipeline`` options (defaults below) the three overlap:

* :class:`Prefetcher` runs ``load(item)`` (in LR mode: decode the LR image and make its SR results) for the next
  ``prefetch`` images on one background thread while the main thread works on the current one;
* :class:`BackgroundWriter` takes over the file writes (:func:`desra.io.images.write_image` /
  :func:`~desra.io.images.write_text`) made inside :meth:`BackgroundWriter.deferring` and performs them, in the
  order they were made, on one background thread; at most ``write_queue`` writes wait, so memory stays bounded.

Each write stays atomic and an image's writes keep their order, so the file an image writes last (the detect
command's mask) still marks it finished. A failed load or write is the failure of its image only: the image's
later writes are dropped, the batch goes on, and the failure is reported at the end. ``prefetch: 0`` and
``write_queue: 0`` give the serial run. PNG encoding (OpenCV) and torch release the GIL, so the threads run in
parallel with the main one.

YAML::

    pipeline:
      prefetch: 2      # images loaded ahead (LR mode); 0 = serial
      write_queue: 8   # file writes waiting for the writer thread; 0 = write in the main thread
"""
import contextvars
import queue
import threading

from desra.io.images import DEFERRED_WRITES
from desra.io.names import Failure

#: The ``pipeline`` options and their defaults.
DEFAULT_PIPELINE = {'prefetch': 2, 'write_queue': 8}
_DONE = object()


def pipeline_options(opt):
    """``opt['pipeline']`` completed with :data:`DEFAULT_PIPELINE`.

    Raises:
        ValueError: A value is not an integer >= 0 or the key is unknown (the message names it).
    """
    values = dict(DEFAULT_PIPELINE, **(opt.get('pipeline') or {}))
    for key, value in values.items():
        if key not in DEFAULT_PIPELINE:
            raise ValueError(f'pipeline:{key} is not an option; known: {", ".join(DEFAULT_PIPELINE)}')
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f'pipeline:{key} must be an integer >= 0, got {value!r}')
    return values


class Prefetcher:
    """Calls ``load(item)`` for ``items``, in order, on a background thread, at most ``depth`` items ahead.

    :meth:`get` must be called for the items in the same order. A ``ValueError`` raised by ``load`` (an image that
    cannot be used) is raised again by :meth:`get` for that item; any other exception too, and it ends the loading.

    Args:
        load (callable): ``load(item) -> result``.
        items (list): The items, in the order they will be asked for.
        depth (int): Results computed ahead and waiting (>= 1).
    """

    def __init__(self, load, items, depth):
        self._results = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(load, list(items)), name='desra-prefetch',
                                        daemon=True)
        self._thread.start()

    def _run(self, load, items):
        for item in items:
            try:
                entry = (item, load(item), None)
            except Exception as error:  # handed to the main thread, which decides
                entry = (item, None, error)
            while not self._stop.is_set():
                try:
                    self._results.put(entry, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if self._stop.is_set() or (entry[2] is not None and not isinstance(entry[2], ValueError)):
                return

    def get(self, item):
        """The result of ``load(item)`` (waiting for it); raises what ``load`` raised."""
        loaded_item, result, error = self._results.get()
        if loaded_item is not item:
            raise RuntimeError(f'prefetch order broken: expected {getattr(item, "name", item)}')
        if error is not None:
            raise error
        return result

    def close(self):
        """Stop loading (results not asked for are dropped) and wait for the thread."""
        self._stop.set()
        self._thread.join()


class BackgroundWriter:
    """Performs the file writes made inside :meth:`deferring` on one background thread, in order.

    Args:
        max_pending (int): Writes that may wait; 0 = no thread, :meth:`deferring` writes at once (serial run).
    """

    def __init__(self, max_pending):
        self.failures = []
        self._failed = set()
        self._tasks = queue.Queue(maxsize=max_pending) if max_pending > 0 else None
        self._thread = None
        if self._tasks is not None:
            self._thread = threading.Thread(target=self._run, name='desra-writer', daemon=True)
            self._thread.start()

    def _run(self):
        while True:
            task = self._tasks.get()
            if task is _DONE:
                return
            name, write, args = task
            if name in self._failed:
                continue
            try:  # in a context of its own: the writer's own write calls are not deferred again
                contextvars.Context().run(write, *args)
            except (OSError, ValueError) as error:
                self._failed.add(name)
                self.failures.append(Failure(name, f'writing {args[0]}: {error}'))

    def deferring(self, name):
        """Context manager: the writes made inside it, on this thread, are queued as the writes of image ``name``."""
        return _Deferring(self, name)

    def close(self):
        """Wait until every queued write is done (also after an error or an interruption of the main loop)."""
        if self._thread is not None:
            self._tasks.put(_DONE)
            self._thread.join()
            self._thread = None


class _Deferring:
    def __init__(self, writer, name):
        self.writer, self.name, self.token = writer, name, None

    def _submit(self, write, *args):
        self.writer._tasks.put((self.name, write, args))

    def __enter__(self):
        if self.writer._tasks is not None:
            self.token = DEFERRED_WRITES.set(self._submit)
        return self

    def __exit__(self, *exc_info):
        if self.token is not None:
            DEFERRED_WRITES.reset(self.token)
        return False
