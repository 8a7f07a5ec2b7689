"""Which errors fail one image rather than the run, and how a run lists its failed images."""
import cv2
import torch

from desra.io.names import Failure

#: Errors that fail one image, not the run: bad or unusable files (ValueError, with ImageReadError), and memory or
#: decoder errors of one large or odd image.
PER_IMAGE_ERRORS = (ValueError, MemoryError, cv2.error, torch.cuda.OutOfMemoryError)
#: Failures listed in a summary before it says "... and N more".
MAX_LISTED_FAILURES = 20


def failure_of(name, error):
    """The :class:`Failure` of image ``name`` for one of :data:`PER_IMAGE_ERRORS`."""
    if isinstance(error, ValueError):
        return Failure(name, str(error))
    if isinstance(error, MemoryError):
        return Failure(name, 'out of memory while processing it; lower max_image_pixels or the tile size')
    reason = str(error).strip().splitlines()[-1] if str(error).strip() else ''
    return Failure(name, f'{type(error).__name__}: {reason}')


def capped_lines(lines, limit=MAX_LISTED_FAILURES, indent='  - '):
    """The first ``limit`` of ``lines`` as an indented block, then ``... and N more`` when some were left out."""
    shown = [f'{indent}{line}' for line in lines[:limit]]
    if len(lines) > limit:
        shown.append(f'{" " * len(indent)}... and {len(lines) - limit} more')
    return '\n'.join(shown)
