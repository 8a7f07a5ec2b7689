"""Artifact masks and DeSRA's pseudo ground truth: the MSE-SR where the detector found artifacts, the GAN-SR elsewhere.

With a mask ``m`` (1 = artifact) the pseudo-GT is, per pixel and channel (the DeSRA paper's fine-tuning data)::

    pseudo_gt = w * sr_mse + (1 - w) * sr_gan,   w = m                      (feather_sigma = 0, the paper's)
                                                  w = G_sigma * m            (feather_sigma = sigma > 0)

where ``G_sigma * m`` is ``scipy.ndimage.gaussian_filter(m, sigma, mode='nearest', truncate=4.0)``: the sampled
Gaussian ``exp(-k^2 / (2 sigma^2))`` for ``|k| <= round(4 sigma)``, normalised to sum 1, applied along each axis, the
image edge repeated. Feathering centres a soft seam on the mask edge (``w`` is about 0.5 there).
"""
import numpy as np
from scipy.ndimage import gaussian_filter

from desra.io.images import DecodedImage, decode_image, encode_image

#: Truncation of the feathering Gaussian, in standard deviations.
FEATHER_TRUNCATE = 4.0


def mask_to_hr(mask, hr_shape, border, mask_path):
    """Bring a detector mask to the full HR (SR image) size.

    The detector's texture statistics are computed in valid mode, so a mask may lack a band of ``border`` pixels on
    each side; that band holds no detection and is zero-padded.

    Args:
        mask (np.ndarray): bool, (h, w).
        hr_shape (tuple[int, int]): (H, W) of the HR images: scale x the LR size.
        border (int): Width of the band the detector leaves out, pixels.
        mask_path (str): The mask's file, for the error message.

    Returns:
        np.ndarray: bool, (H, W).

    Raises:
        ValueError: The mask is neither (H, W) nor (H - 2 * border, W - 2 * border).
    """
    hr_shape = tuple(hr_shape)
    if mask.shape == hr_shape:
        return mask
    if mask.shape == (hr_shape[0] - 2 * border, hr_shape[1] - 2 * border):
        return np.pad(mask, border, mode='constant', constant_values=False)
    raise ValueError(f'{mask_path}: mask is {mask.shape[0]}x{mask.shape[1]} but the HR size (scale x LR) is '
                     f'{hr_shape[0]}x{hr_shape[1]}; expected that size or {hr_shape[0] - 2 * border}x'
                     f'{hr_shape[1] - 2 * border} (a {border}-px border left out by the detector)')


def blend_weights(mask, feather_sigma=0):
    """The weight ``w`` of the MSE-SR in the pseudo-GT (module docstring).

    Args:
        mask (np.ndarray): bool, (H, W); True = artifact.
        feather_sigma (float): Standard deviation of the feathering Gaussian, HR pixels; 0 = hard mask.

    Returns:
        np.ndarray: float32, (H, W), values in [0, 1].
    """
    weights = mask.astype(np.float32)
    if feather_sigma > 0:
        weights = gaussian_filter(weights, feather_sigma, mode='nearest', truncate=FEATHER_TRUNCATE)
    return weights


def pseudo_gt_image(sr_mse, sr_gan, mask, feather_sigma=0):
    """Blend the two SR images into the pseudo-GT, keeping the deeper bit depth of the two.

    Args:
        sr_mse (np.ndarray): *Image file array* of the MSE-based SR model, (H, W[, C]), uint8 or uint16.
        sr_gan (np.ndarray): *Image file array* of the GAN-based SR model, same (H, W).
        mask (np.ndarray): bool, (H, W); True = artifact.
        feather_sigma (float): See :func:`blend_weights`.

    Returns:
        np.ndarray: *Image file array*: uint16 when either input is 16-bit, else uint8; (H, W) when both inputs
        are grayscale, else (H, W, 3) BGR. Alpha channels are dropped (the training data is RGB).
    """
    mse, gan = decode_image(sr_mse), decode_image(sr_gan)
    weights = blend_weights(mask, feather_sigma)[..., None]
    rgb = weights * mse.rgb + (1 - weights) * gan.rgb
    return encode_image(DecodedImage(rgb, None, max(mse.max_value, gan.max_value), mse.is_gray and gan.is_gray))
