"""Pictures for the report pages: 8-bit PNGs of the images, masks outlined, contrast heat maps, part crops.

Inputs are float RGB images on the 0..255 scale, shape (H, W, 3) (what :func:`desra.utils.img_io.load_rgb255`
returns), and bool masks (H, W). Files are written atomically as 8-bit RGB PNG.
"""
import os

import cv2
import numpy as np

from desra.detection.contrast import embed_interior
from desra.report.parts import crop_box
from desra.utils.img_io import write_image

#: Colour of mask outlines (RGB).
OUTLINE_COLOR = (255, 0, 0)


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


def contrast_heatmap(contrast, shape):
    """Show a contrast map as a heat map: red where the contrast is low (likely artifact), blue where it is high.

    Args:
        contrast (np.ndarray): float, (H - 2r, W - 2r), contrast of the image's interior (values clipped to [0, 1]).
        shape (tuple[int, int]): (H, W) of the full image; the ``r``-pixel border, where nothing is computed, is
            painted black.

    Returns:
        np.ndarray: uint8, (H, W, 3), RGB (OpenCV's JET colour map applied to ``1 - contrast``).
    """
    heat = cv2.applyColorMap(to_uint8((1 - np.clip(contrast, 0, 1)) * 255), cv2.COLORMAP_JET)[..., ::-1]
    return embed_interior(np.ascontiguousarray(heat), shape, fill=0)


def upscale_nearest(rgb255, shape):
    """Resize an (LR) image to ``shape`` = (H, W) by nearest-neighbour interpolation (pixels stay visible)."""
    return cv2.resize(to_uint8(rgb255), (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)


def write_part_crops(paths, images, bbox, masks=None):
    """Crop the same window around an artifact part out of several images of one scene.

    Args:
        paths (dict[str, str]): Output PNG per image label (``'before'``, ``'after'``, ``'mse'``).
        images (dict[str, np.ndarray]): (H, W, 3) RGB 0..255 per label, all of one size.
        bbox (tuple[int, int, int, int]): x, y, width, height of the part.
        masks (dict[str, np.ndarray] | None): bool (H, W) mask to outline on the crop, per label (optional).

    Returns:
        tuple[int, int, int, int]: The crop window x0, y0, x1, y1.
    """
    masks = masks or {}
    some_image = next(iter(images.values()))
    x0, y0, x1, y1 = crop_box(bbox, some_image.shape[:2])
    for label, path in paths.items():
        crop = images[label][y0:y1, x0:x1]
        if masks.get(label) is not None:
            crop = outline_mask(crop, masks[label][y0:y1, x0:x1])
        save_rgb(path, crop)
    return x0, y0, x1, y1


class ReportPictures:
    """The pictures of a run's report, under ``<run>/report/``; every method returns paths relative to the run.

    Layout (``name`` = the image's name): ``report/<kind>/<name>.png`` for whole images (``lr``, ``mse``,
    ``finetuned``, ``heat``, ``heat_finetuned``) and ``report/crops/<name>/part<k>_<label>.png`` for crops.

    Args:
        run_root (str): The run folder (where ``index.html`` goes).
    """

    def __init__(self, run_root):
        self.run_root = run_root

    def _path(self, *parts):
        rel_path = '/'.join(('report', *parts))
        return rel_path, os.path.join(self.run_root, rel_path)

    def image(self, kind, name, rgb255):
        """Write an image (0..255 RGB) as ``report/<kind>/<name>.png``."""
        rel_path, path = self._path(kind, f'{name}.png')
        save_rgb(path, rgb255)
        return rel_path

    def lr(self, name, lq_rgb255, shape):
        """Write the LR image enlarged to ``shape`` (the SR size) by nearest neighbour."""
        return self.image('lr', name, upscale_nearest(lq_rgb255, shape))

    def heatmap(self, kind, name, contrast, shape):
        """Write :func:`contrast_heatmap` of ``contrast`` at ``shape``."""
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
            rel_paths = {label: self._path('crops', name, f'part{index}_{label}.png') for label in images}
            write_part_crops({label: path for label, (_, path) in rel_paths.items()}, images, part.bbox, masks)
            crops.append({label: rel_path for label, (rel_path, _) in rel_paths.items()})
        return crops
