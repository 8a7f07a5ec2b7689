"""Super-resolve a folder of images: outputs named as the inputs (or ``<stem>_<suffix>``), written atomically,
finished ones skipped unless other settings or weights made them."""
import json
import os
from dataclasses import dataclass, field

import cv2
import numpy as np
from tqdm import tqdm

from desra.utils.image_names import PER_IMAGE_ERRORS, capped_lines, failure_of
from desra.utils.img_io import (DecodedImage, decode_image, encode_image, list_images, read_image, write_image,
                                write_text)
from desra.utils.made_with import describe_changes

#: Formats that cannot hold an alpha channel; RGBA inputs in them are written as PNG instead.
NO_ALPHA_EXTENSIONS = ('.jpg', '.jpeg', '.bmp', '.ppm', '.pgm')


@dataclass
class FolderRunReport:
    """What a folder run did. Paths are relative to the input folder."""
    written: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    failed: dict = field(default_factory=dict)  # relative path -> error message
    redone: list = field(default_factory=list)  # why earlier outputs were deleted and made again (their changes)

    def summary(self):
        """One line (and why earlier outputs were redone), then one line per failure (the first
        :data:`~desra.utils.image_names.MAX_LISTED_FAILURES`, then a count)."""
        line = f'{len(self.written)} written, {len(self.skipped)} already done, {len(self.failed)} failed'
        if self.redone:
            line += f' (earlier outputs made otherwise were redone: {"; ".join(self.redone)})'
        return '\n'.join([line, capped_lines(list(self.failed.values()), indent='  FAILED ')]).rstrip()


def output_name(path, has_alpha, suffix=''):
    """The output's path for input ``path``: the same, ``<stem>_<suffix><ext>`` with a ``suffix`` (Real-ESRGAN's
    naming), and as PNG when the image has alpha and the input's format cannot hold it."""
    root, ext = os.path.splitext(path)
    root = f'{root}_{suffix}' if suffix else root
    return f'{root}.png' if has_alpha and ext.lower() in NO_ALPHA_EXTENSIONS else f'{root}{ext}'


def find_output(output_root, rel_path, suffix=''):
    """The existing output for input ``rel_path`` (see :func:`output_name`, with or without alpha), or None."""
    for candidate in (output_name(rel_path, False, suffix), output_name(rel_path, True, suffix)):
        path = os.path.join(output_root, candidate)
        if os.path.isfile(path):
            return path
    return None


def made_with_stamp(output_root, suffix=''):
    """The file recording what made the outputs named with ``suffix`` in ``output_root`` (one per suffix, so that
    runs with different suffixes can share a folder)."""
    return os.path.join(output_root, f'.made_with_{suffix}.json' if suffix else '.made_with.json')


def discard_outputs_made_otherwise(output_root, rel_paths, made_with, suffix=''):
    """Delete the outputs of ``rel_paths`` that other settings made, and record ``made_with`` as what makes them now.

    The record (:func:`made_with_stamp`) is written before any output, and outputs are only ever written under the
    current record, so after an interrupted run every existing output is one the record describes. Only this run's
    own output names are deleted: nothing else in ``output_root`` is touched.

    Args:
        output_root (str): The output folder.
        rel_paths (list[str]): The inputs' relative paths.
        made_with (dict): What shapes the outputs (JSON-like; e.g. :func:`~desra.utils.made_with.network_made_with`).
        suffix (str): The output names' suffix (:func:`output_name`).

    Returns:
        list[str]: Why outputs were deleted (the changed settings, or that none were recorded); empty when none were.
    """
    stamp = made_with_stamp(output_root, suffix)
    earlier = None
    if os.path.isfile(stamp):
        with open(stamp, encoding='utf-8') as f:
            earlier = json.load(f)
    if earlier == made_with:
        return []
    stale = [path for path in (find_output(output_root, rel_path, suffix) for rel_path in rel_paths) if path]
    for path in stale:
        os.remove(path)
    write_text(stamp, json.dumps(made_with, indent=1))
    if not stale:
        return []
    return describe_changes(earlier, made_with) if earlier else [f'{len(stale)} outputs without a record']


def resize_to_outscale(sr, lr_shape, outscale):
    """Real-ESRGAN's ``--outscale``: the SR image resized with Lanczos (OpenCV) to ``int(outscale * LR size)``.

    Args:
        sr (DecodedImage): The network's output.
        lr_shape (tuple[int]): (H, W) of the LR image.
        outscale (float): The final scale (> 0).

    Returns:
        DecodedImage: Of size (int(outscale * H), int(outscale * W)), values clipped to [0, 1].
    """
    size = (max(int(lr_shape[1] * outscale), 1), max(int(lr_shape[0] * outscale), 1))

    def resize(channels):
        return np.clip(cv2.resize(channels, size, interpolation=cv2.INTER_LANCZOS4), 0, 1)
    alpha = None if sr.alpha is None else resize(sr.alpha)
    return DecodedImage(resize(sr.rgb), alpha, sr.max_value, sr.is_gray)


def upscale_file(upsampler, input_path, output_path, alpha_upsampler='model', outscale=None):
    """Super-resolve one image file into ``output_path`` (atomic), keeping its depth, gray-ness and alpha.

    Returns:
        str: The path written: ``output_path``, or its PNG twin for an image with alpha (see :func:`output_name`).

    Raises:
        ImageReadError: ``input_path`` is not a readable image (the message names it).
    """
    return upscale_decoded(upsampler, decode_image(read_image(input_path)), output_path, alpha_upsampler, outscale)


def upscale_decoded(upsampler, decoded, output_path, alpha_upsampler='model', outscale=None):
    """:func:`upscale_file` for an image already read and decoded, e.g. one LR image given to several networks.

    Args:
        upsampler (TiledUpsampler): The network to run.
        decoded (DecodedImage): The LR image (:func:`desra.utils.img_io.decode_image`); left unchanged, so one
            decoded image can feed several networks.
        output_path (str): Where to write the SR image.
        alpha_upsampler (str): See :meth:`TiledUpsampler.upscale`.
        outscale (float | None): Final scale (:func:`resize_to_outscale`); None or the network's scale: none.

    Returns:
        str: The path written: ``output_path``, or its PNG twin for an image with alpha (see :func:`output_name`).
    """
    output_path = output_name(output_path, decoded.alpha is not None)
    sr = upsampler.upscale(decoded, alpha_upsampler=alpha_upsampler)
    if outscale is not None and outscale != upsampler.scale:
        sr = resize_to_outscale(sr, decoded.rgb.shape[:2], outscale)
    write_image(output_path, encode_image(sr))
    return output_path


def upscale_folder(upsampler, input_root, output_root, rel_paths=None, overwrite=False, alpha_upsampler='model',
                   show_progress=True, suffix='', outscale=None, made_with=None):
    """Super-resolve every image under ``input_root`` into ``output_root`` with the same relative names
    (``<stem>_<suffix>`` with a ``suffix``).

    A file that cannot be read (or is too large, truncated, or runs out of memory:
    :data:`~desra.utils.image_names.PER_IMAGE_ERRORS`) is recorded with its path and reason and the run goes on;
    outputs are written
    atomically, so an interrupted run is continued by running it again (existing outputs are skipped unless
    ``overwrite``, or unless other settings made them: ``made_with``).

    Args:
        upsampler (TiledUpsampler): The network to run.
        input_root (str): Folder of LR images (searched recursively).
        output_root (str): Folder for the SR images.
        rel_paths (list[str] | None): Restrict to these relative paths; default every file under ``input_root``.
        overwrite (bool): Recompute outputs that exist.
        alpha_upsampler (str): See :meth:`TiledUpsampler.upscale`.
        show_progress (bool): Show a tqdm bar.
        suffix (str): Appended to the output names (:func:`output_name`).
        outscale (float | None): Final scale (:func:`resize_to_outscale`).
        made_with (dict | None): What shapes the outputs; existing outputs that something else made are redone
            (:func:`discard_outputs_made_otherwise`). None: every existing output is kept.

    Returns:
        FolderRunReport

    Raises:
        ValueError: No file under ``input_root`` (when ``rel_paths`` is None).
    """
    if rel_paths is None:
        rel_paths = list_images(input_root, extensions=None)
        if not rel_paths:
            raise ValueError(f'{input_root}: no images found (datasets: test: dataroot_lq)')
    report = FolderRunReport()
    if made_with is not None:
        os.makedirs(output_root, exist_ok=True)
        report.redone = discard_outputs_made_otherwise(output_root, rel_paths, made_with, suffix)
    for rel_path in tqdm(rel_paths, desc=f'SR {os.path.basename(os.path.normpath(output_root))}', unit='img',
                         disable=not show_progress):
        if not overwrite and find_output(output_root, rel_path, suffix):
            report.skipped.append(rel_path)
            continue
        input_path = os.path.join(input_root, rel_path)
        try:
            upscale_file(upsampler, input_path, os.path.join(output_root, output_name(rel_path, False, suffix)),
                         alpha_upsampler, outscale)
        except PER_IMAGE_ERRORS as error:
            failure = failure_of(input_path, error)
            report.failed[rel_path] = failure.message if isinstance(error, ValueError) else str(failure)
            continue
        report.written.append(rel_path)
    return report
