"""Pictures for the report pages: 8-bit PNGs of the images, masks outlined, contrast heat maps (the mask outlined in
white), difference maps (log scale), square part crops, and a JPEG thumbnail of each whole picture for the pages
(the PNG opens on click).

Inputs are float RGB images on the 0..255 scale, shape (H, W, 3) (what :func:`desra.io.images.load_rgb255`
returns), and bool masks (H, W). Files are written atomically.
"""
import os

import cv2
import numpy as np

from desra.detection.contrast import embed_interior
from desra.io.images import write_image
from desra.report.html import Panel
from desra.report.parts import crop_box

#: Colour of mask outlines on the images and crops (RGB).
OUTLINE_COLOR = (255, 0, 0)
#: Colour of mask outlines on the heat maps (RGB; the heat colours never are white).
HEAT_OUTLINE_COLOR = (255, 255, 255)
#: Longest side of the thumbnails shown on the pages (pixels): a panel is at most this wide at 1400 px, so
#: thumbnails are never enlarged there.
THUMB_SIZE = 640
#: JPEG quality of the thumbnails.
THUMB_QUALITY = 90
#: Difference (mean over R, G, B, 0..255 scale) at which the difference map saturates.
DIFF_FULL_SCALE = 64
#: Labelled differences of the difference map's colour bar (0..255 scale).
DIFF_TICKS = (0, 1, 2, 4, 8, 16, 32, 64)


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
    cv2.drawContours(canvas, contours, -1, color, max(1, round(max(mask.shape) / 300)))
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


def contrast_heatmap(contrast, shape, mask=None):
    """Show a contrast map (c, or the adjusted map) as a heat map coloured by :func:`heat_colors`.

    Args:
        contrast (np.ndarray): float, (H - 2r, W - 2r), contrast of the image's interior (values clipped to [0, 1]).
        shape (tuple[int, int]): (H, W) of the full image; the ``r``-pixel border, where nothing is computed, is
            painted black.
        mask (np.ndarray | None): bool (H, W): outlined in :data:`HEAT_OUTLINE_COLOR` (:func:`outline_mask`).

    Returns:
        np.ndarray: uint8, (H, W, 3), RGB.
    """
    heat = embed_interior(np.ascontiguousarray(heat_colors(contrast)), shape, fill=0)
    return heat if mask is None else outline_mask(heat, mask, HEAT_OUTLINE_COLOR)


def diff_position(diff, full_scale=DIFF_FULL_SCALE):
    """Where a difference (0..255 scale) lies on the difference map's colour scale, in [0, 1]:
    ``log(1 + d) / log(1 + full_scale)`` (clipped), so that differences of 1 or 2 are not black."""
    return np.log1p(np.clip(np.asarray(diff, np.float64), 0, full_scale)) / np.log1p(full_scale)


def diff_colors(positions):
    """Colours of the difference map at scale positions in [0, 1]: uint8 RGB, ``positions.shape + (3,)`` (OpenCV's
    INFERNO colour map: black, purple, orange, white-yellow)."""
    positions = np.asarray(positions, np.float64)
    gray = to_uint8(np.clip(positions, 0, 1) * 255).reshape(-1, 1)
    return cv2.applyColorMap(gray, cv2.COLORMAP_INFERNO)[:, 0, ::-1].reshape(positions.shape + (3,))


def difference_map(rgb255_a, rgb255_b, full_scale=DIFF_FULL_SCALE):
    """``|a - b|`` of two images, averaged over R, G, B, as a picture on a log scale (:func:`diff_position`):
    black = equal, white-yellow = ``full_scale`` or more.

    Args:
        rgb255_a, rgb255_b (np.ndarray): (H, W, 3) RGB, 0..255, one shape.
        full_scale (float): Difference (0..255 scale) shown white.

    Returns:
        np.ndarray: uint8, (H, W, 3), RGB (:func:`diff_colors`).
    """
    diff = np.abs(np.asarray(rgb255_a, np.float64) - np.asarray(rgb255_b, np.float64)).mean(axis=2)
    return np.ascontiguousarray(diff_colors(diff_position(diff, full_scale)))


def thumbnail_size(size, max_side=THUMB_SIZE):
    """(width, height) of the thumbnail of a picture of ``size`` = (width, height): shrunk so that its longer side
    is at most ``max_side`` pixels, unchanged when already smaller."""
    width, height = size
    scale = max_side / max(height, width)
    if scale >= 1:
        return width, height
    return max(1, round(width * scale)), max(1, round(height * scale))


def thumbnail(rgb, max_side=THUMB_SIZE):
    """``rgb`` (uint8 or 0..255 float, (H, W, 3)) shrunk by area averaging to :func:`thumbnail_size`; uint8."""
    rgb = to_uint8(rgb)
    size = thumbnail_size((rgb.shape[1], rgb.shape[0]), max_side)
    if size == (rgb.shape[1], rgb.shape[0]):
        return rgb
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def thumbnail_path(rel_path):
    """Where the thumbnail of the picture ``rel_path`` (relative to the run, POSIX) goes:
    ``report/thumbs/<rel_path without report/ and extension>.jpg``."""
    stem = os.path.splitext(rel_path)[0]
    return 'report/thumbs/' + (stem[len('report/'):] if stem.startswith('report/') else stem) + '.jpg'


def upscale_nearest(rgb255, shape):
    """Resize an (LR) image to ``shape`` = (H, W) by nearest-neighbour interpolation (pixels stay visible)."""
    return cv2.resize(to_uint8(rgb255), (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)


def part_crops(images, window, masks=None):
    """Crop one window out of several images of one scene.

    Args:
        images (dict[str, np.ndarray]): (H, W, 3) RGB 0..255 per image label (``'before'``, ``'after'``, ``'mse'``,
            ``'lr'``), all of one size.
        window (tuple[int, int, int, int]): x0, y0, x1, y1 (exclusive), e.g. from :func:`crop_box`.
        masks (dict[str, np.ndarray] | None): bool (H, W) mask per label: its crop is outlined 1 pixel thick (the
            mask's own border only, not where the window cuts it), and the plain crop is added as
            ``'<label>_plain'``.

    Returns:
        dict[str, np.ndarray]: uint8 RGB crop per label.
    """
    masks = masks or {}
    x0, y0, x1, y1 = window
    crops = {}
    for label, image in images.items():
        crop = to_uint8(image[y0:y1, x0:x1])
        mask = masks.get(label)
        if mask is None:
            crops[label] = crop
            continue
        # the window and one more pixel around it: a part cut by the window has no outline along the cut
        ex0, ey0 = max(0, x0 - 1), max(0, y0 - 1)
        contours, _ = cv2.findContours(mask[ey0:y1 + 1, ex0:x1 + 1].astype(np.uint8), cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_NONE, offset=(ex0 - x0, ey0 - y0))
        crops[label] = cv2.drawContours(crop.copy(), contours, -1, OUTLINE_COLOR, 1)
        crops[f'{label}_plain'] = crop
    return crops


def write_thumbnail(path, rgb255):
    """Write :func:`thumbnail` of an image as a JPEG."""
    write_image(path, np.ascontiguousarray(thumbnail(rgb255)[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, THUMB_QUALITY])


class ReportPictures:
    """The pictures of a run's report, under ``<run>/report/``; every method returns paths relative to the run.

    Layout (``name`` = the image's name): ``report/<kind>/<name>.png`` for whole images (``lr``, ``mse``, ``gan``,
    ``finetuned`` (plain SR results, for the comparison sliders), ``heat``, ``heat_gan``, ``heat_finetuned``,
    ``diff``), with the thumbnail of each (also of pictures written elsewhere, e.g. the overlays) at
    :func:`thumbnail_path`; and ``report/crops/<name>/part<k>_<label>.png`` for the crops (shown as they are).

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
        rel_path, path = self._path(kind, f'{name}.png')
        save_rgb(path, rgb255)
        self.thumbnail(rel_path, rgb255)
        return rel_path

    def thumbnail(self, rel_path, rgb255):
        """Write the thumbnail of picture ``rel_path`` (relative to the run) from its pixels ``rgb255``."""
        write_thumbnail(os.path.join(self.run_root, thumbnail_path(rel_path)), rgb255)

    @staticmethod
    def panel(title, rel_path, size=None, scale=None):
        """The :class:`~desra.report.html.Panel` of a picture written here: its thumbnail on the page, the picture
        on click; ``size`` = (width, height) of the picture; ``scale``: its colour bar (``'heat'``, ``'diff'``)."""
        return Panel(title, rel_path, thumbnail_path(rel_path), thumbnail_size(size) if size else None, scale)

    @staticmethod
    def crop_panel(title, rel_path, side=None):
        """The :class:`~desra.report.html.Panel` of a crop, shown as it is; ``side``: of its square window."""
        return Panel(title, rel_path, None, (side, side) if side else None)

    def lr(self, name, lq_rgb255, shape):
        """Write the LR image enlarged to ``shape`` (the SR size) by nearest neighbour.

        Returns:
            tuple[str, np.ndarray]: Its path, and its pixels (uint8 (H, W, 3) RGB, for the crops).
        """
        enlarged = upscale_nearest(lq_rgb255, shape)
        return self.image('lr', name, enlarged), enlarged

    def heatmap(self, kind, name, contrast, shape, mask=None):
        """Write :func:`contrast_heatmap` of ``contrast`` (e.g. the adjusted map) at ``shape``, ``mask`` outlined."""
        return self.image(kind, name, contrast_heatmap(contrast, shape, mask))

    def crops(self, name, parts, images, masks=None, weights=None):
        """Write crops of the square window around each part (:func:`~desra.report.parts.crop_box`).

        Args:
            name (str): The image's name.
            parts (list[ArtifactPart]): The parts to crop, in order (numbered from 1).
            images (dict[str, np.ndarray]): (H, W, 3) RGB 0..255 per crop label.
            masks (dict[str, np.ndarray] | None): bool (H, W) mask outlined on the crops of a label (which then
                also get a plain crop, :func:`part_crops`).
            weights (np.ndarray | None): float (H, W): where a part larger than the window is strongest (strength
                map x mask); None: the window is centred on it.

        Returns:
            list[tuple[dict[str, str], tuple[int, int, int, int]]]: Per part, the crop path per label and the
            window x0, y0, x1, y1.
        """
        crops = []
        shape = next(iter(images.values())).shape[:2]
        for index, part in enumerate(parts, 1):
            window = crop_box(part.bbox, shape, weights)
            paths = {}
            for label, crop in part_crops(images, window, masks).items():
                rel_path, path = self._path('crops', name, f'part{index}_{label}.png')
                save_rgb(path, crop)
                paths[label] = rel_path
            crops.append((paths, window))
        return crops
