"""Image files as people have them: 8/16-bit, grayscale, RGB, RGBA; atomic writes; folder listing.

Conventions used across DeSRA:

* an *image file array* is what OpenCV reads with ``IMREAD_UNCHANGED``: ``uint8`` or ``uint16``, shape (H, W),
  (H, W, 3) in BGR order or (H, W, 4) in BGRA order;
* a *float RGB image* is ``float32``, shape (H, W, 3), RGB order, values in [0, 1].
"""
import contextvars
import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np

_UMASK = os.umask(0)
os.umask(_UMASK)

#: While set (by :meth:`desra.utils.pipeline.BackgroundWriter.deferring`), :func:`write_image` and
#: :func:`write_text` hand ``(function, path, data...)`` to it instead of writing: a background thread writes.
DEFERRED_WRITES = contextvars.ContextVar('desra_deferred_writes', default=None)

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp', '.ppm', '.pgm')


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


def read_image(path):
    """Read an image file as an *image file array* (see the module docstring).

    Raises:
        ImageReadError: The file is missing, not an image, or of an unsupported depth or channel count.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ImageReadError(f'{path}: no such file')
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
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
    so "the output exists" means "the output is complete" and reruns can skip finished work.
    """
    path = os.fspath(path)
    folder = os.path.dirname(path) or '.'
    os.makedirs(folder, exist_ok=True)
    root, ext = os.path.splitext(os.path.basename(path))
    fd, tmp_path = tempfile.mkstemp(prefix=f'.{root}.', suffix=f'.tmp{ext}', dir=folder)
    os.close(fd)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp creates 0600; give the file the usual permissions
        os.replace(tmp_path, path)
    finally:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)


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

    Hidden files and folders are skipped. ``extensions=None`` lists every file, so that a stray non-image in an
    input folder is reported by :func:`read_image` rather than silently ignored.

    Raises:
        FileNotFoundError: ``root`` is not a folder.
    """
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise FileNotFoundError(f'{root}: no such folder')
    found = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith('.')) if recursive else []
        for name in files:
            if not name.startswith('.') and (extensions is None or name.lower().endswith(extensions)):
                found.append(os.path.relpath(os.path.join(folder, name), root).replace(os.sep, '/'))
    return sorted(found)
