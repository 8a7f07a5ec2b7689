"""Image files as people have them: 8/16-bit, grayscale, RGB, RGBA; atomic writes; folder listing.

Conventions used across DeSRA:

* an *image file array* is what OpenCV reads with ``IMREAD_UNCHANGED``: ``uint8`` or ``uint16``, shape (H, W),
  (H, W, 3) in BGR order or (H, W, 4) in BGRA order;
* a *float RGB image* is ``float32``, shape (H, W, 3), RGB order, values in [0, 1].

Every image is checked before it is decoded: its header gives its size (PIL reads headers lazily), and an image of more
than :func:`max_image_pixels` pixels (option ``max_image_pixels``, default :data:`DEFAULT_MAX_IMAGE_PIXELS`) is
refused, so a small file that declares a huge size cannot exhaust the memory. A JPEG that ends before its image data
does (truncated download) is refused too, instead of being decoded grey-filled.
"""
import contextvars
import os
import re
import socket
import tempfile
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np
from PIL import Image

from desra.io.paths import not_found

_UMASK = os.umask(0)
os.umask(_UMASK)

#: While set (by :meth:`desra.batch.pipeline.BackgroundWriter.deferring`), :func:`write_image` and
#: :func:`write_text` hand ``(function, path, data...)`` to it instead of writing: a background thread writes.
DEFERRED_WRITES = contextvars.ContextVar('desra_deferred_writes', default=None)

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp', '.ppm', '.pgm')
#: Default of the ``max_image_pixels`` option: 2**27 = 134 million pixels (e.g. 16384 x 8192); a float32 RGB copy of
#: such an image takes 1.5 GiB.
DEFAULT_MAX_IMAGE_PIXELS = 2 ** 27
_limits = {'max_image_pixels': DEFAULT_MAX_IMAGE_PIXELS}
#: Name tag of this process's temporary files (see :func:`atomic_output`): host and process id.
_HOST_TAG = re.sub(r'[^A-Za-z0-9]', '', socket.gethostname())[:16]
#: A temporary file of :func:`atomic_output`: ``.<name>.desra-<host>-<pid>-<8 random chars>.tmp<ext>``.
_TEMP_NAME = re.compile(r'^\..*\.desra-(?P<host>[A-Za-z0-9]*)-(?P<pid>\d+)-[a-z0-9_]{8}\.tmp(\.[^.]*)?$')
#: A temporary file of another host is removed only when older than this (seconds): it may belong to a live process.
FOREIGN_TEMP_AGE = 24 * 3600


class ImageReadError(ValueError):
    """An input file is not an image DeSRA can use; the message names the file and the problem."""


@dataclass
class DecodedImage:
    """An image file split into the parts that super-resolution and detection work on.

    Attributes:
        rgb (np.ndarray): float32, (H, W, 3), RGB, [0, 1]. A grayscale file is replicated to three channels.
        alpha (np.ndarray | None): float32, (H, W), [0, 1]; None when the file has no alpha channel.
        max_value (int): 255 for 8-bit files, 65535 for 16-bit files.
        is_gray (bool): Whether the file had a single channel.
    """
    rgb: np.ndarray
    alpha: Optional[np.ndarray]
    max_value: int
    is_gray: bool


def set_max_image_pixels(opt):
    """Set the pixel limit of :func:`read_image` from the option ``max_image_pixels`` of ``opt`` (default
    :data:`DEFAULT_MAX_IMAGE_PIXELS`) for this process and the data-loader workers it starts.

    Raises:
        ValueError: The option is not a positive integer.
    """
    limit = opt.get('max_image_pixels', DEFAULT_MAX_IMAGE_PIXELS)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f'max_image_pixels must be a positive integer (pixels per image), got {limit!r}')
    _limits['max_image_pixels'] = limit
    Image.MAX_IMAGE_PIXELS = max(Image.MAX_IMAGE_PIXELS or 0, limit)  # PIL's own bomb check must not refuse first


def max_image_pixels():
    """The largest image (width x height, pixels) that :func:`read_image` decodes."""
    return _limits['max_image_pixels']


def check_image_header(path):
    """Refuse, before decoding, an image that is too large or a truncated JPEG.

    The size comes from the header (PIL parses it without decoding). Files PIL does not know are left to OpenCV.

    Raises:
        ImageReadError: The header declares more than :func:`max_image_pixels` pixels, or a JPEG is truncated.
    """
    limit = max_image_pixels()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', Image.DecompressionBombWarning)
            try:
                img = Image.open(path)
            except Image.DecompressionBombError:  # PIL's own check (twice its limit, >= ours): read the size alone
                pil_limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
                try:
                    img = Image.open(path)
                finally:
                    Image.MAX_IMAGE_PIXELS = pil_limit
            with img:
                width, height = img.size
                if width * height <= limit and img.format == 'JPEG' and not _ends_with_jpeg_eoi(path):
                    img.load()  # no end-of-image marker: decode strictly (trailing bytes after a whole image pass)
    except OSError as error:
        if 'truncated' in str(error).lower():
            raise ImageReadError(f'{path}: truncated image file (it ends before its image data: {error}); '
                                 'download or copy it again') from None
        return  # UnidentifiedImageError and other formats PIL cannot read: OpenCV decides
    except (SyntaxError, ValueError):
        return
    if width * height > limit:
        raise ImageReadError(f'{path}: {width}x{height} (WxH) = {width * height} pixels is above the limit of {limit} '
                             'pixels; raise the option max_image_pixels to process it')


def _ends_with_jpeg_eoi(path):
    """Whether the file ends with the JPEG end-of-image marker FF D9."""
    with open(path, 'rb') as f:
        f.seek(max(os.fstat(f.fileno()).st_size - 2, 0))
        return f.read(2) == b'\xff\xd9'


def read_image(path):
    """Read an image file as an *image file array* (see the module docstring).

    The header is checked first (:func:`check_image_header`); decoder and memory errors become
    :class:`ImageReadError`, so that one bad file fails alone.

    Raises:
        ImageReadError: The file is missing, not an image, too large, truncated, or of an unsupported depth or
            channel count.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ImageReadError(f'{path}: no such file')
    check_image_header(path)
    try:
        img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    except cv2.error as error:
        reason = str(error).strip().splitlines()[-1]
        raise ImageReadError(f'{path}: not a readable image (OpenCV: {reason})') from None
    except MemoryError:
        raise ImageReadError(f'{path}: not enough memory to decode it') from None
    if img is None:
        raise ImageReadError(f'{path}: not a readable image (OpenCV could not decode it)')
    if img.dtype not in (np.uint8, np.uint16):
        raise ImageReadError(f'{path}: unsupported pixel type {img.dtype} (8- or 16-bit images are supported)')
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    if img.ndim == 3 and img.shape[2] not in (3, 4):
        raise ImageReadError(f'{path}: unsupported channel count {img.shape[2]} (1, 3 or 4 are supported)')
    return img


def decode_image(img):
    """Split an *image file array* into a :class:`DecodedImage`."""
    max_value = 65535 if img.dtype == np.uint16 else 255
    img = img.astype(np.float32) / max_value
    is_gray = img.ndim == 2
    alpha = None
    if is_gray:
        rgb = np.repeat(img[..., None], 3, axis=2)
    else:
        if img.shape[2] == 4:
            alpha = img[..., 3]
        rgb = img[..., 2::-1]  # BGR(A) -> RGB
    return DecodedImage(np.ascontiguousarray(rgb), alpha, max_value, is_gray)


def encode_image(decoded):
    """Inverse of :func:`decode_image`: round to the original depth and channel layout (BGR/BGRA/gray)."""
    rgb = decoded.rgb
    if decoded.is_gray:
        channels = [rgb.mean(axis=2)] if rgb.ndim == 3 else [rgb]
    else:
        channels = [rgb[..., 2], rgb[..., 1], rgb[..., 0]]
    if decoded.alpha is not None:
        channels.append(decoded.alpha)
    img = channels[0] if len(channels) == 1 else np.stack(channels, axis=2)
    dtype = np.uint16 if decoded.max_value == 65535 else np.uint8
    return np.round(np.clip(img, 0, 1) * decoded.max_value).astype(dtype)


def load_rgb255(path):
    """Read ``path`` as float64 RGB on the 0..255 scale, shape (H, W, 3), whatever its depth or channels.

    16-bit files are scaled by 255 / 65535, grayscale is replicated to three channels, alpha is dropped:
    the form the artifact detector works on.
    """
    return decoded_rgb255(decode_image(read_image(path)))


def decoded_rgb255(decoded):
    """The RGB of a :func:`decode_image` result as float64 on the 0..255 scale, shape (H, W, 3) (see
    :func:`load_rgb255`)."""
    return decoded.rgb.astype(np.float64) * 255.0


@contextmanager
def atomic_output(path):
    """Yield a temporary path beside ``path`` (same extension); on success it is renamed onto ``path``.

    A reader never sees a half-written file and an interrupted run leaves no file under the final name,
    so "the output exists" means "the output is complete" and reruns can skip finished work. The temporary file is
    named ``.<name>.desra-<host>-<pid>-<random>.tmp<ext>``; one left by a killed process is removed by
    :func:`remove_stale_temp_files` at the next start.
    """
    path = os.fspath(path)
    folder = os.path.dirname(path) or '.'
    os.makedirs(folder, exist_ok=True)
    root, ext = os.path.splitext(os.path.basename(path))
    fd, tmp_path = tempfile.mkstemp(prefix=f'.{root}.desra-{_HOST_TAG}-{os.getpid()}-', suffix=f'.tmp{ext}',
                                    dir=folder)
    os.close(fd)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp creates 0600; give the file the usual permissions
        os.replace(tmp_path, path)
    finally:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)


def remove_stale_temp_files(root):
    """Remove the temporary files of :func:`atomic_output` that killed processes left under ``root`` (recursively).

    Only names of :func:`atomic_output`'s pattern are touched: those of this host whose process is gone, and those of
    other hosts older than :data:`FOREIGN_TEMP_AGE` seconds.

    Returns:
        list[str]: The paths removed.
    """
    removed = []
    for folder, _, files in os.walk(os.fspath(root)):
        for name in files:
            match = _TEMP_NAME.match(name)
            path = os.path.join(folder, name)
            if match and _is_orphan(match, path):
                try:
                    os.remove(path)
                except FileNotFoundError:  # its process finished meanwhile
                    continue
                removed.append(path)
    return removed


def _is_orphan(match, path):
    """Whether the temporary file ``path`` (``match`` of :data:`_TEMP_NAME`) belongs to no running process."""
    if match['host'] != _HOST_TAG:
        try:
            return os.path.getmtime(path) < time.time() - FOREIGN_TEMP_AGE
        except FileNotFoundError:
            return False
    try:
        os.kill(int(match['pid']), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # another user's live process
        return False
    return False


def write_image(path, img, params=None):
    """Write an *image file array* (or any array OpenCV can encode) to ``path`` atomically.

    Raises:
        OSError: OpenCV could not encode the image under this file extension.
    """
    defer = DEFERRED_WRITES.get()
    if defer is not None:
        return defer(write_image, path, np.array(img), params)  # a copy: the caller may reuse its array
    with atomic_output(path) as tmp_path:
        if not cv2.imwrite(tmp_path, img, params or []):
            raise OSError(f'{path}: OpenCV could not write a {img.dtype} image of shape {img.shape}')


def write_text(path, text):
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    defer = DEFERRED_WRITES.get()
    if defer is not None:
        return defer(write_text, path, text)
    with atomic_output(path) as tmp_path:
        with open(tmp_path, 'w', encoding='utf-8') as f:
            f.write(text)


def list_images(root, recursive=True, extensions=IMAGE_EXTENSIONS):
    """Sorted paths of the image files under ``root``, relative to it (POSIX separators).

    Hidden files and folders are skipped. Symbolic links to folders are followed, except one that leads back to a
    folder on its own path (a loop). ``extensions=None`` lists every file, so that a stray non-image in an input
    folder is reported by :func:`read_image` rather than silently ignored.

    Raises:
        FileNotFoundError: ``root`` is not a folder.
    """
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise FileNotFoundError(f'{root}: {not_found(root, "folder")}')
    found = []
    chains = {root: {os.path.realpath(root)}}  # folder -> real paths of the folders from root down to it
    for folder, subfolders, files in os.walk(root, followlinks=True):
        chain = chains.pop(folder)
        kept = []
        for name in sorted(subfolders) if recursive else []:
            real = os.path.realpath(os.path.join(folder, name))
            if not name.startswith('.') and real not in chain:
                chains[os.path.join(folder, name)] = chain | {real}
                kept.append(name)
        subfolders[:] = kept
        for name in files:
            if not name.startswith('.') and (extensions is None or name.lower().endswith(extensions)):
                found.append(os.path.relpath(os.path.join(folder, name), root).replace(os.sep, '/'))
    return sorted(found)
