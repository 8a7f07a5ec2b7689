"""What Stage 1 writes for one image, shared by the detect and test commands: its SR results read as one pair, the
detector's result, the masks, maps and overlays on disk and the figures of its record.

Files under a folder ``root`` (the run folder for detect; ``detect_gan/`` and ``detect_finetuned/`` for test;
``<img>`` = the image's name):

* ``masks/<img>.png``: the final artifact mask, uint8 0/255, GAN-SR size; the ``window_size // 2`` border is 0;
* ``contrast/<img>.png``, ``adjusted/<img>.png``: the contrast map c and the semantics-adjusted map of the interior
  ((H - 2r) x (W - 2r), r = window_size // 2) as 16-bit PNG: ``round(clip(c, 0, 1) * 65535)``;
* ``seg/<img>.png``: the ADE20K classes of the GAN-SR image in mmsegmentation's palette (only with a segmenter);
* ``overlays/<img>.png``: the GAN-SR image (8-bit) with the mask outlined in red.
"""
import os

import numpy as np

from desra.io.images import load_rgb255, write_image
from desra.report import below_threshold_curve, class_figures, colorize_labels, outline_mask, save_rgb

#: Labels of the SR results.
ROLE_LABELS = {'mse': 'MSE-SR', 'gan': 'GAN-SR', 'finetuned': 'fine-tuned GAN-SR'}


def encode_unit_map(values):
    """A map of values in [0, 1] as uint16: ``round(clip(values, 0, 1) * 65535)``."""
    return np.round(np.clip(values, 0, 1) * 65535).astype(np.uint16)


def load_sr_images(item, roles):
    """Read the SR results of an image, which must all have one size.

    Returns:
        dict[str, np.ndarray]: float64 (H, W, 3) RGB 0..255 per role.

    Raises:
        ValueError: A file cannot be read, or the sizes differ (the message lists every file with its size).
    """
    images = {role: load_rgb255(item.sr_paths[role]) for role in roles}
    if len({image.shape for image in images.values()}) > 1:
        sizes = ', '.join(f'{ROLE_LABELS[role]} {item.sr_paths[role]} is {image.shape[1]}x{image.shape[0]} (WxH)'
                          for role, image in images.items())
        raise ValueError(f'size mismatch: {sizes}')
    return images


def detect_pair(detector, item, images, gan_role='gan'):
    """Run the detector on ``images['mse']`` and ``images[gan_role]``.

    Raises:
        ValueError: The detector refuses the pair (e.g. smaller than its window); the message adds both files and
            their size.
    """
    try:
        return detector.detect(images['mse'], images[gan_role])
    except ValueError as error:
        height, width = images['mse'].shape[:2]
        source = f', LR {item.lq_path}' if item.lq_path else ''
        raise ValueError(f'{error} (MSE-SR {item.sr_paths["mse"]} and {ROLE_LABELS[gan_role]} '
                         f'{item.sr_paths[gan_role]}, {width}x{height} WxH{source})') from None


class DetectionOutputs:
    """Writes the detection outputs of one SR model's images (masks, maps, overlays) under ``root``.

    Args:
        root (str): Folder of ``masks/``, ``contrast/``, ``adjusted/``, ``seg/``, ``overlays/``.
        run_root (str): The run folder; returned paths are relative to it.
    """

    def __init__(self, root, run_root):
        self.root = root
        self.run_root = run_root

    def path(self, kind, name):
        """Path of output ``kind`` (``'masks'``, ``'contrast'``, ...) of image ``name``."""
        return os.path.join(self.root, kind, f'{name}.png')

    def relpath(self, kind, name):
        """:meth:`path` relative to the run folder, POSIX separators."""
        return os.path.relpath(self.path(kind, name), self.run_root).replace(os.sep, '/')

    def save_maps(self, name, result, gan_rgb255, pictures):
        """Write everything but the mask: contrast, adjusted, seg (when there are labels) and the overlay, with the
        thumbnails of the last two (``pictures``: the run's :class:`ReportPictures`).

        Returns:
            dict[str, str | None]: Paths relative to the run of the ``overlay`` and ``seg`` pictures.
        """
        write_image(self.path('contrast', name), encode_unit_map(result.contrast))
        write_image(self.path('adjusted', name), encode_unit_map(result.adjusted))
        seg = None if result.labels is None else self._save_picture('seg', name, colorize_labels(result.labels),
                                                                    pictures)
        overlay = self._save_picture('overlays', name, outline_mask(gan_rgb255, result.mask), pictures)
        return {'overlay': overlay, 'seg': seg}

    def _save_picture(self, kind, name, rgb, pictures):
        save_rgb(self.path(kind, name), rgb)
        rel_path = self.relpath(kind, name)
        pictures.thumbnail(rel_path, rgb)
        return rel_path

    def save_mask(self, name, mask):
        """Write the mask (uint8 0/255) atomically, after the maps: the detect command takes it as the sign that
        the image is finished."""
        write_image(self.path('masks', name), mask.astype(np.uint8) * 255)


def mask_figures(mask, parts):
    """The summary figures of an artifact mask (the ``summary.csv`` columns but the image name).

    Args:
        mask (np.ndarray): bool (H, W).
        parts (list[ArtifactPart]): Its parts (:func:`desra.report.measure_parts`).
    """
    height, width = mask.shape
    pixels = int(mask.sum())
    return {'height': height, 'width': width, 'artifact_pixels': pixels, 'fraction': pixels / mask.size,
            'parts': len(parts), 'severity': sum(part.severity for part in parts)}


def map_figures(result):
    """The report's figures of a detection result beyond its mask: ``below_threshold``
    (:func:`desra.report.below_threshold_curve`) and ``classes`` (:func:`desra.report.class_figures`; None without
    a segmenter)."""
    return {'below_threshold': below_threshold_curve(result.adjusted, result.mask.size),
            'classes': None if result.labels is None else class_figures(result.labels, result.mask)}


def part_records(parts, crops):
    """JSON records of parts, the first ``len(crops)`` with their crop pictures (``crops``, path per label) and the
    window they show (``crop_window``: x0, y0, x1, y1, :func:`desra.report.crop_box`); ``crops``: what
    :meth:`desra.report.ReportPictures.crops` returns."""
    records = []
    for index, part in enumerate(parts):
        paths, window = crops[index] if index < len(crops) else ({}, None)
        records.append(dict(part.to_dict(), crops=paths, **({'crop_window': list(window)} if window else {})))
    return records
