"""Step 2 of DeSRA's detection: the local-variance contrast between an MSE-SR and a GAN-SR image (Eq. 7).

For images ``x`` (MSE-SR) and ``y`` (GAN-SR) on the 0..255 scale, per channel::

    s_z = G * z^2 - (G * z)^2                                      (local variance, z = x or y)
    c   = (2 sqrt(s_x + eps) sqrt(s_y + eps) + C) / (s_x + s_y + C),    C = (c_factor * 255)^2

where ``G *`` is a ``window_size`` x ``window_size`` Gaussian window (OpenCV's ``getGaussianKernel(window_size,
sigma)`` weights, outer product) applied in *valid* mode: no padding, so the map is ``(H - 2r, W - 2r)`` with
``r = window_size // 2``. The map averages ``c`` over the channels; ``c`` is at most 1 (up to ``2 eps / C``) and
low where the GAN-SR image has texture that the MSE-SR image has not: artifact evidence.

Numerics: near zero variance the square root amplifies the cancellation error of ``E[z^2] - E[z]^2`` (float32
would be off by ~1e-2 in ``c``), so everything is computed in float64. The Gaussian window is separable: on the CPU
OpenCV filters all channels at once, strip by strip so that the data stays in cache, the strips spread over
``cv2.getNumThreads()`` threads; on a torch device two depthwise 1-D convolutions do the same. Both paths share
:func:`contrast_from_moments`.
"""
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import torch
import torch.nn.functional as F

#: Elements (rows x width x channels) of one strip of the CPU path: about 2 MiB of float64, cache-sized.
_STRIP_ELEMENTS = 1 << 18


def gaussian_kernel_1d(window_size=11, sigma=1.5):
    """The 1-D Gaussian weights, float64, shape (window_size,), summing to 1 (``cv2.getGaussianKernel``)."""
    return cv2.getGaussianKernel(window_size, sigma, cv2.CV_64F).ravel()


def check_image_pair(x, y, window_size):
    """Check that ``x`` and ``y`` are (H, W) or (H, W, C) images of one shape, larger than the window.

    Raises:
        ValueError: The shapes differ, are not 2-D/3-D, or H or W does not exceed ``window_size``; the message
            gives both shapes.
    """
    if not isinstance(window_size, (int, np.integer)) or window_size < 1 or window_size % 2 == 0:
        raise ValueError(f'window_size must be a positive odd integer, got {window_size!r}')
    if tuple(x.shape) != tuple(y.shape):
        raise ValueError(f'MSE-SR and GAN-SR images differ in shape: {tuple(x.shape)} vs {tuple(y.shape)}')
    if x.ndim not in (2, 3):
        raise ValueError(f'expected (H, W) or (H, W, C) images, got shape {tuple(x.shape)}')
    if min(x.shape[:2]) <= window_size:
        raise ValueError(f'images of shape {tuple(x.shape)} are too small: height and width must exceed the '
                         f'{window_size}x{window_size} window')


def crop_interior(image, border):
    """The valid-mode region of a full-size map: ``image`` without ``border`` pixels on each side.

    Args:
        image (np.ndarray): (H, W) or (H, W, C).
        border (int): The margin, ``window_size // 2`` for a valid-mode map.

    Returns:
        np.ndarray: A view, (H - 2 border, W - 2 border[, C]); :func:`embed_interior` puts it back.
    """
    height, width = image.shape[:2]
    return image[border:height - border, border:width - border]


def embed_interior(interior, shape, fill=0):
    """Place a valid-mode map back into a full-size frame: the inverse of cropping ``r`` pixels from each side.

    Args:
        interior (np.ndarray): (H - 2r, W - 2r) or (H - 2r, W - 2r, C), any dtype.
        shape (tuple[int, int]): (H, W) of the full image.
        fill: Value of the ``r``-pixel frame.

    Returns:
        np.ndarray: (H, W[, C]), ``interior``'s dtype, ``interior`` in the middle and ``fill`` around it.

    Raises:
        ValueError: ``interior`` is not the interior of an (H, W) image (the same margin on every side).
    """
    height, width = shape
    border = (height - interior.shape[0]) // 2
    if border < 0 or interior.shape[:2] != (height - 2 * border, width - 2 * border):
        raise ValueError(f'a map of shape {interior.shape[:2]} is not the interior of a {tuple(shape)} image')
    frame = np.full((height, width, *interior.shape[2:]), fill, dtype=interior.dtype)
    frame[border:height - border, border:width - border] = interior
    return frame


def contrast_from_moments(mean_x, mean_y, mean_xx, mean_yy, constant, eps):
    """Eq. 7 from the local moments, per element, in place (the inputs are overwritten).

    Works on numpy arrays and torch tensors alike (float64 of one shape).

    Args:
        mean_x, mean_y: Local means ``G * x``, ``G * y``.
        mean_xx, mean_yy: Local means of the squares ``G * x^2``, ``G * y^2``.
        constant (float): ``C = (c_factor * 255)^2``.
        eps (float): Added to each variance under the square root.

    Returns:
        The contrast ``c`` (in ``mean_xx``'s memory).
    """
    xp = torch if isinstance(mean_x, torch.Tensor) else np
    var_x = xp.subtract(mean_xx, xp.multiply(mean_x, mean_x, out=mean_x), out=mean_xx)
    var_y = xp.subtract(mean_yy, xp.multiply(mean_y, mean_y, out=mean_y), out=mean_yy)
    denominator = xp.add(var_x, var_y, out=mean_x)
    denominator += constant
    var_x += eps
    var_y += eps
    # Variances are >= 0 but rounding leaves ~1e-11 negatives where they vanish: clamp the product at 0.
    numerator = xp.clip(xp.multiply(var_x, var_y, out=var_x), 0, None, out=var_x)
    xp.sqrt(numerator, out=numerator)
    numerator *= 2
    numerator += constant
    return xp.divide(numerator, denominator, out=numerator)


def _contrast_strip(x, y, kernel, constant, eps, out):
    """Contrast of the rows ``r .. len(x) - r`` of a strip: ``x``, ``y`` (R + 2r, W, C) -> ``out`` (R, W - 2r)."""
    r = len(kernel) // 2
    rows, cols, channels = x.shape
    x = np.ascontiguousarray(x, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)

    def local_mean(z):  # the r-pixel frame, where the border mode would matter, is cropped
        mean = cv2.sepFilter2D(z, cv2.CV_64F, kernel, kernel, borderType=cv2.BORDER_REFLECT)
        return mean.reshape(rows, cols, channels)[r:rows - r, r:cols - r]

    contrast = contrast_from_moments(local_mean(x), local_mean(y), local_mean(x * x), local_mean(y * y),
                                     constant, eps)
    np.copyto(out, contrast[..., 0])
    for channel in range(1, channels):
        out += contrast[..., channel]
    out /= channels


def contrast_map(x, y, window_size=11, sigma=1.5, c_factor=0.03, eps=1e-8):
    """The contrast map ``c`` of Eq. 7 between an MSE-SR image ``x`` and a GAN-SR image ``y``.

    Args:
        x (np.ndarray | torch.Tensor): MSE-SR image, shape (H, W) or (H, W, C), values on the 0..255 scale.
        y (np.ndarray | torch.Tensor): GAN-SR image, same shape and type.
        window_size (int): Side of the Gaussian window (odd).
        sigma (float): Standard deviation of the Gaussian window (pixels).
        c_factor (float): ``C = (c_factor * 255)^2``.
        eps (float): Added to each variance under the square root.

    Returns:
        np.ndarray | torch.Tensor: float64, shape (H - 2r, W - 2r), ``r = window_size // 2``: the channel mean
        of ``c``, in (0, 1] (up to ``2 eps / C``). A numpy array for numpy inputs; for tensors, a tensor on their
        device.

    Raises:
        ValueError: The images differ in shape or are not larger than the window.
        TypeError: One image is a numpy array, the other a tensor.
    """
    check_image_pair(x, y, window_size)
    if isinstance(x, torch.Tensor) != isinstance(y, torch.Tensor):
        raise TypeError(f'x and y must both be numpy arrays or both tensors, got {type(x).__name__} and '
                        f'{type(y).__name__}')
    kernel = gaussian_kernel_1d(window_size, sigma)
    constant = (c_factor * 255.0)**2
    if isinstance(x, torch.Tensor):
        return _contrast_map_torch(x, y, kernel, constant, eps)

    x = x if x.ndim == 3 else x[..., None]
    y = y if y.ndim == 3 else y[..., None]
    height, width, channels = x.shape
    r = window_size // 2
    out = np.empty((height - 2 * r, width - 2 * r), dtype=np.float64)
    strip = max(1, _STRIP_ELEMENTS // (width * channels))
    tops = range(0, height - 2 * r, strip)

    def run_strip(top):
        bottom = min(top + strip, height - 2 * r)
        _contrast_strip(x[top:bottom + 2 * r], y[top:bottom + 2 * r], kernel, constant, eps, out[top:bottom])

    # OpenCV and numpy release the GIL: strips run in parallel on as many threads as OpenCV is set to use.
    with ThreadPoolExecutor(max_workers=max(1, min(cv2.getNumThreads(), len(tops)))) as pool:
        list(pool.map(run_strip, tops))
    return out


def _contrast_map_torch(x, y, kernel, constant, eps):
    """:func:`contrast_map` for tensors: float64 separable depthwise convolutions on their device."""
    images = torch.stack([x, y]).to(torch.float64)
    images = images if images.ndim == 4 else images[..., None]
    images = images.permute(0, 3, 1, 2)  # (2, C, H, W)
    moments = torch.cat([images, images * images]).flatten(0, 1)[None]  # (1, 4C, H, W): x, y, x^2, y^2
    num_maps = moments.shape[1]
    weights = torch.as_tensor(kernel, dtype=torch.float64, device=x.device)
    moments = F.conv2d(moments, weights.view(1, 1, -1, 1).expand(num_maps, 1, -1, 1), groups=num_maps)
    moments = F.conv2d(moments, weights.view(1, 1, 1, -1).expand(num_maps, 1, 1, -1), groups=num_maps)
    mean_x, mean_y, mean_xx, mean_yy = moments[0].unflatten(0, (4, -1))
    return contrast_from_moments(mean_x, mean_y, mean_xx, mean_yy, constant, eps).mean(dim=0)
