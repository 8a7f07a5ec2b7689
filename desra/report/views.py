"""Pictures for the report pages: 8-bit PNGs of the images, masks outlined, contrast heat maps, difference maps,
part crops, and a small JPEG thumbnail of each for the pages (the PNG opens on click).

Inputs are float RGB images on the 0..255 scale, shape (H, W, 3) (what :func:`desra.utils.img_io.load_rgb255`
returns), and bool masks (H, W). Files are written atomically.
"""
import os

import cv2
import numpy as np

from desra.detection.contrast import embed_interior
from desra.report.html import Panel
from desra.report.parts import crop_box
from desra.utils.img_io import write_image

#: Colour of mask outlines (RGB).
OUTLINE_COLOR = (255, 0, 0)
#: Longest side of the thumbnails shown on the pages (pixels).
THUMB_SIZE = 360
#: JPEG quality of the thumbnails.
THUMB_QUALITY = 90
#: Difference (mean over R, G, B, 0..255 scale) at which the difference map saturates.
DIFF_FULL_SCALE = 32


def to_uint8(rgb255):
    """Round and clip a 0..255 float image to uint8."""
    return np.clip(np.round(rgb255), 0, 255).astype(np.uint8)


def save_rgb(path, rgb):
    """Write an RGB image (uint8, or float 0..255) as an 8-bit PNG."""
    write_image(path, np.ascontiguousarray(to_uint8(rgb)[..., ::-1]))


def outline_mask(rgb255, mask, color=OUTLINE_COLOR):
    """Draw the outline of every part of ``mask`` on the image.

    Args:
        rgb255 (np.ndarray): (H, W, 3) RGB, 0..255.
        mask (np.ndarray): bool, (H, W).
        color (tuple[int, int, int]): RGB of the outline.

    Returns:
        np.ndarray: uint8 (H, W, 3) RGB; the outline is about 1/300 of the larger side thick (at least 1 pixel).
    """
    canvas = np.ascontiguousarray(to_uint8(rgb255))
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    thickness = max(1, round(max(mask.shape) / 300))
    cv2.drawContours(canvas, contours, -1, color, thickness)
    return canvas


def heat_colors(values):
    """Colours of contrast values on the heat maps: red at 0 (likely artifact), blue at 1.

    Args:
        values (np.ndarray): float, any shape, clipped to [0, 1].

    Returns:
        np.ndarray: uint8, ``values.shape + (3,)``, RGB (OpenCV's JET colour map applied to ``1 - values``).
    """
    values = np.asarray(values, np.float64)
    gray = to_uint8((1 - np.clip(values, 0, 1)) * 255).reshape(-1, 1)
    return cv2.applyColorMap(gray, cv2.COLORMAP_JET)[:, 0, ::-1].reshape(values.shape + (3,))


def contrast_heatmap(contrast, shape):
    """Show a contrast map (c, or the adjusted map) as a heat map coloured by :func:`heat_colors`.

    Args:
        contrast (np.ndarray): float, (H - 2r, W - 2r), contrast of the image's interior (values clipped to [0, 1]).
        shape (tuple[int, int]): (H, W) of the full image; the ``r``-pixel border, where nothing is computed, is
            painted black.

    Returns:
        np.ndarray: uint8, (H, W, 3), RGB.
    """
    return embed_interior(np.ascontiguousarray(heat_colors(contrast)), shape, fill=0)


def difference_map(rgb255_a, rgb255_b, full_scale=DIFF_FULL_SCALE):
    """``|a - b|`` of two images, averaged over R, G, B, as a picture: black = equal, white = ``full_scale`` or more.

    Args:
        rgb255_a, rgb255_b (np.ndarray): (H, W, 3) RGB, 0..255, one shape.
        full_scale (float): Difference (0..255 scale) shown white.

    Returns:
        np.ndarray: uint8, (H, W, 3), RGB (OpenCV's INFERNO colour map: black, purple, orange, white-yellow).
    """
    diff = np.abs(np.asarray(rgb255_a, np.float64) - np.asarray(rgb255_b, np.float64)).mean(axis=2)
    return np.ascontiguousarray(cv2.applyColorMap(to_uint8(np.clip(diff / full_scale, 0, 1) * 255),
                                                  cv2.COLORMAP_INFERNO)[..., ::-1])


def thumbnail(rgb, max_side=THUMB_SIZE):
    """``rgb`` (uint8 or 0..255 float, (H, W, 3)) shrunk by area averaging so its longer side is at most
    ``max_side`` pixels (unchanged when already smaller); uint8."""
    rgb = to_uint8(rgb)
    height, width = rgb.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1:
        return rgb
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def thumbnail_path(rel_path):
    """Where the thumbnail of the picture ``rel_path`` (relative to the run, POSIX) goes:
    ``report/thumbs/<rel_path without report/ and extension>.jpg``."""
    stem = os.path.splitext(rel_path)[0]
    return 'report/thumbs/' + (stem[len('report/'):] if stem.startswith('report/') else stem) + '.jpg'


def upscale_nearest(rgb255, shape):
    """Resize an (LR) image to ``shape`` = (H, W) by nearest-neighbour interpolation (pixels stay visible)."""
    return cv2.resize(to_uint8(rgb255), (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)


def part_crops(images, bbox, masks=None):
    """Crop the same window around an artifact part out of several images of one scene.

    Args:
        images (dict[str, np.ndarray]): (H, W, 3) RGB 0..255 per image label (``'before'``, ``'after'``, ``'mse'``),
            all of one size.
        bbox (tuple[int, int, int, int]): x, y, width, height of the part.
        masks (dict[str, np.ndarray] | None): bool (H, W) mask to outline on the crop, per label (optional).

    Returns:
        dict[str, np.ndarray]: uint8 RGB crop per label, all of the window :func:`crop_box` gives.
    """
    masks = masks or {}
    some_image = next(iter(images.values()))
    x0, y0, x1, y1 = crop_box(bbox, some_image.shape[:2])
    crops = {}
    for label, image in images.items():
        crop = image[y0:y1, x0:x1]
        crops[label] = outline_mask(crop, masks[label][y0:y1, x0:x1]) if masks.get(label) is not None \
            else to_uint8(crop)
    return crops


def write_thumbnail(path, rgb255):
    """Write :func:`thumbnail` of an image as a JPEG."""
    write_image(path, np.ascontiguousarray(thumbnail(rgb255)[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, THUMB_QUALITY])


class ReportPictures:
    """The pictures of a run's report, under ``<run>/report/``; every method returns paths relative to the run.

    Layout (``name`` = the image's name): ``report/<kind>/<name>.png`` for whole images (``lr``, ``mse``,
    ``heat``, ``heat_gan``, ``heat_finetuned``, ``diff``) and ``report/crops/<name>/part<k>_<label>.png`` for crops;
    the thumbnail of each picture (also of pictures written elsewhere, e.g. the overlays) at
    :func:`thumbnail_path`.

    Args:
        run_root (str): The run folder (where ``index.html`` goes).
    """

    def __init__(self, run_root):
        self.run_root = run_root

    def _path(self, *parts):
        rel_path = '/'.join(('report', *parts))
        return rel_path, os.path.join(self.run_root, rel_path)

    def image(self, kind, name, rgb255):
        """Write an image (0..255 RGB) as ``report/<kind>/<name>.png``, and its thumbnail."""
        return self._write(self._path(kind, f'{name}.png'), rgb255)

    def _write(self, paths, rgb255):
        rel_path, path = paths
        save_rgb(path, rgb255)
        self.thumbnail(rel_path, rgb255)
        return rel_path

    def thumbnail(self, rel_path, rgb255):
        """Write the thumbnail of picture ``rel_path`` (relative to the run) from its pixels ``rgb255``."""
        write_thumbnail(os.path.join(self.run_root, thumbnail_path(rel_path)), rgb255)

    @staticmethod
    def panel(title, rel_path, size=None):
        """The :class:`~desra.report.html.Panel` of a picture written here: its thumbnail on the page, the picture
        on click; ``size`` = (width, height) of the picture."""
        return Panel(title, rel_path, thumbnail_path(rel_path), size)

    def lr(self, name, lq_rgb255, shape):
        """Write the LR image enlarged to ``shape`` (the SR size) by nearest neighbour."""
        return self.image('lr', name, upscale_nearest(lq_rgb255, shape))

    def heatmap(self, kind, name, contrast, shape):
        """Write :func:`contrast_heatmap` of ``contrast`` (e.g. the adjusted map) at ``shape``."""
        return self.image(kind, name, contrast_heatmap(contrast, shape))

    def crops(self, name, parts, images, masks=None):
        """Write crops around each part.

        Args:
            name (str): The image's name.
            parts (list[ArtifactPart]): The parts to crop, in order (numbered from 1).
            images (dict[str, np.ndarray]): (H, W, 3) RGB 0..255 per crop label.
            masks (dict[str, np.ndarray] | None): bool (H, W) mask outlined on the crops of a label.

        Returns:
            list[dict[str, str]]: Per part, the crop path per label.
        """
        crops = []
        for index, part in enumerate(parts, 1):
            pixels = part_crops(images, part.bbox, masks)
            crops.append({label: self._write(self._path('crops', name, f'part{index}_{label}.png'), crop)
                          for label, crop in pixels.items()})
        return crops
