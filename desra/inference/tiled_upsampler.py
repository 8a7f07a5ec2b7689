"""Super-resolve whole images with any basicsr SR network, tile by tile when memory asks for it.

What Real-ESRGAN's ``RealESRGANer`` offers, with one code path for tiled and untiled runs: reflection pre-padding,
padding to the size multiple the network needs, overlapping tiles whose borders (``tile_pad``) are computed but
discarded, fp16 on CUDA, and alpha channels upscaled separately.
"""
import math

import cv2
import numpy as np
import torch
from basicsr.archs.rrdbnet_arch import RRDBNet
from spandrel import SizeRequirements

from desra.batch.progress import progress_bar
from desra.io.images import DecodedImage

#: Fewest tiles of one image that get their own progress bar (a very large image; rank 0 only).
TILE_BAR_MIN = 17


def size_requirements(net, scale):
    """The input sizes ``net`` accepts at ``scale``, in input pixels (spandrel's :class:`SizeRequirements`).

    A network detected from its checkpoint (``type: auto``) gives spandrel's requirements for its architecture;
    basicsr's RRDBNet pixel-unshuffles its input at scale 2 (by 2) and 1 (by 4). A window-attention network (an
    integer ``window_size``: SwinIR, HAT, OmniSR, ...) also gets whole windows, so that a tile sees the windows the
    whole image would and tiled results agree with untiled ones.
    """
    detected = getattr(net, 'detected_arch', None)
    if detected is not None:
        minimum, multiple = detected.size_requirements.minimum, detected.size_requirements.multiple_of
        if detected.size_requirements.square:
            raise ValueError(f'{detected.source}: the {detected.name} model takes square inputs only, which the tiled '
                             'upsampler does not make')
    else:
        minimum, multiple = 0, {1: 4, 2: 2}.get(scale, 1) if isinstance(net, RRDBNet) else 1
    window = getattr(net, 'window_size', None)
    if isinstance(window, int):
        multiple = math.lcm(multiple, window)
    return SizeRequirements(minimum=minimum, multiple_of=multiple)


class TiledUpsampler:
    """Run an SR network over images of any size.

    Args:
        net (nn.Module): SR network mapping (N, 3, h, w) in [0, 1] to (N, 3, scale*h, scale*w); set to eval mode here.
        scale (int): Its upscaling factor.
        tile (int): Tile size in input pixels; 0 processes the whole image at once.
        tile_pad (int): Context in input pixels added around each tile and cropped from its output.
        pre_pad (int): Reflection padding (input pixels) added at the bottom and right of the whole image, removed
            from the output; reduces border effects.
        half (bool): Run in fp16 (CUDA only; ignored on the CPU and for detected architectures spandrel runs in fp32
            only, such as SwinIR).
        device (str | torch.device | None): Defaults to the device of ``net``'s parameters.
    """

    def __init__(self, net, scale, tile=0, tile_pad=10, pre_pad=0, half=False, device=None):
        if tile < 0 or tile_pad < 0 or pre_pad < 0:
            raise ValueError(f'tile ({tile}), tile_pad ({tile_pad}) and pre_pad ({pre_pad}) must be >= 0')
        self.device = torch.device(device) if device is not None else next(net.parameters()).device
        detected = getattr(net, 'detected_arch', None)
        self.half = half and self.device.type == 'cuda' and (detected is None or detected.supports_half)
        self.net = net.to(self.device).eval()
        if self.half:
            self.net = self.net.half()
        self.scale = scale
        self.tile = tile
        self.tile_pad = tile_pad
        self.pre_pad = pre_pad
        requirements = size_requirements(net, scale)
        self.multiple, self.minimum = requirements.multiple_of, requirements.minimum

    @torch.inference_mode()
    def upscale_rgb(self, rgb):
        """Super-resolve one RGB image.

        Args:
            rgb (np.ndarray): float32, (H, W, 3), values in [0, 1].

        Returns:
            np.ndarray: float32, (scale*H, scale*W, 3), values clipped to [0, 1].
        """
        height, width = rgb.shape[:2]
        img = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1))).unsqueeze(0).to(self.device)
        img = img.half() if self.half else img.float()
        pad_bottom, pad_right = (max(size + self.pre_pad, self.minimum) - size for size in (height, width))
        pad_bottom += (-(height + pad_bottom)) % self.multiple
        pad_right += (-(width + pad_right)) % self.multiple
        if pad_bottom or pad_right:
            # reflection needs padding smaller than the image; replicate covers tiny images
            mode = 'reflect' if pad_bottom < height and pad_right < width else 'replicate'
            img = torch.nn.functional.pad(img, (0, pad_right, 0, pad_bottom), mode=mode)
        output = self._run_tiles(img) if self.tile > 0 else self.net(img)
        output = output[..., :height * self.scale, :width * self.scale]
        return output.float().clamp_(0, 1)[0].permute(1, 2, 0).cpu().numpy()

    def _run_tiles(self, img):
        """Process ``img`` (1, 3, H, W), H and W multiples of ``self.multiple`` and at least ``self.minimum``, in
        tiles; returns the SR tensor. A context window smaller than ``self.minimum`` grows back into the image."""
        _, channels, height, width = img.shape
        output = img.new_zeros((1, channels, height * self.scale, width * self.scale))
        bar = progress_bar(None, 'tiles', 'tile', total=math.ceil(height / self.tile) * math.ceil(width / self.tile),
                           min_total=TILE_BAR_MIN, leave=False)
        for top in range(0, height, self.tile):
            for left in range(0, width, self.tile):
                bottom, right = min(top + self.tile, height), min(left + self.tile, width)
                # context window, aligned to the size multiple and clamped to the image
                ctx_top = max(top - self.tile_pad, 0) // self.multiple * self.multiple
                ctx_left = max(left - self.tile_pad, 0) // self.multiple * self.multiple
                ctx_bottom = min(math.ceil((bottom + self.tile_pad) / self.multiple) * self.multiple, height)
                ctx_right = min(math.ceil((right + self.tile_pad) / self.multiple) * self.multiple, width)
                ctx_top, ctx_bottom = self._grow(ctx_top, ctx_bottom, height)
                ctx_left, ctx_right = self._grow(ctx_left, ctx_right, width)
                tile_out = self.net(img[..., ctx_top:ctx_bottom, ctx_left:ctx_right])
                s = self.scale
                output[..., top * s:bottom * s, left * s:right * s] = tile_out[
                    ..., (top - ctx_top) * s:(bottom - ctx_top) * s, (left - ctx_left) * s:(right - ctx_left) * s]
                bar.update()
        bar.close()
        return output

    def _grow(self, start, end, size):
        """``[start, end)`` widened to ``self.minimum`` (rounded up to the multiple) inside ``[0, size)``."""
        length = math.ceil(self.minimum / self.multiple) * self.multiple
        if end - start >= length:
            return start, end
        start = max(min(start, end - length), 0)
        return start, min(start + length, size)

    def upscale(self, decoded, alpha_upsampler='model'):
        """Super-resolve a decoded image file, keeping its depth, gray-ness and alpha channel.

        Args:
            decoded (DecodedImage): From :func:`desra.io.images.decode_image`.
            alpha_upsampler (str): ``'model'`` runs the network on the alpha channel (as three identical channels,
                averaged back), as Real-ESRGAN does; ``'linear'`` resizes it bilinearly.

        Returns:
            DecodedImage: The SR image, ``scale`` times larger, same ``max_value``/``is_gray``/alpha presence.
        """
        rgb = self.upscale_rgb(decoded.rgb)
        alpha = None
        if decoded.alpha is not None:
            if alpha_upsampler == 'model':
                alpha = self.upscale_rgb(np.repeat(decoded.alpha[..., None], 3, axis=2)).mean(axis=2)
            elif alpha_upsampler == 'linear':
                alpha = cv2.resize(decoded.alpha, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)
            else:
                raise ValueError(f'alpha_upsampler must be "model" or "linear", got "{alpha_upsampler}"')
        return DecodedImage(rgb, alpha, decoded.max_value, decoded.is_gray)
