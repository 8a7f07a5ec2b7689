"""Super-resolve a folder of images: outputs named as the inputs (or ``<stem>_<suffix>``), written atomically,
finished ones skipped unless other settings or weights made them."""
import os
from dataclasses import dataclass, field

import cv2
import numpy as np
from tqdm import tqdm

from desra.batch.failures import PER_IMAGE_ERRORS, capped_lines, failure_of
from desra.io.images import DecodedImage, decode_image, encode_image, list_images, read_image, write_image
from desra.io.names import find_output, output_name
from desra.io.records import OutputRecords


@dataclass
class FolderRunReport:
    """What a folder run did. Paths are relative to the input folder."""
    written: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    failed: dict = field(default_factory=dict)  # relative path -> error message
    redone: list = field(default_factory=list)  # why outputs other settings made were made again (their changes)
    kept_unrecorded: list = field(default_factory=list)  # outputs this command did not make: kept, not redone

    def summary(self):
        """One line (why earlier outputs were redone, and which were kept), then one line per failure (the first
        :data:`~desra.batch.failures.MAX_LISTED_FAILURES`, then a count)."""
        line = f'{len(self.written)} written, {len(self.skipped)} already done, {len(self.failed)} failed'
        if self.redone:
            line += f' (earlier outputs made otherwise were redone: {"; ".join(self.redone)})'
        if self.kept_unrecorded:
            line += (f'; {len(self.kept_unrecorded)} existing outputs kept that this command has no record of making '
                     '(--overwrite / overwrite: true redoes them)')
        return '\n'.join([line, capped_lines(list(self.failed.values()), indent='  FAILED ')]).rstrip()


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
        decoded (DecodedImage): The LR image (:func:`desra.io.images.decode_image`); left unchanged, so one
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
    :data:`~desra.batch.failures.PER_IMAGE_ERRORS`) is recorded with its path and reason and the run goes on;
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
        made_with (dict | None): What shapes the outputs (:class:`OutputRecords`): an existing output that other
            settings made is redone; one with no record (not made by this command) is kept and counted. None: every
            existing output is kept.

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
    records = None if made_with is None else OutputRecords(output_root, made_with)
    for rel_path in tqdm(rel_paths, desc=f'SR {os.path.basename(os.path.normpath(output_root))}', unit='img',
                         disable=not show_progress):
        existing = find_output(output_root, rel_path, suffix)
        if existing:
            why = None if records is None or overwrite else records.made_otherwise(rel_path, suffix)
            if not overwrite and why in (None, ''):
                (report.skipped if why is None else report.kept_unrecorded).append(rel_path)
                continue
            if why and why not in report.redone:
                report.redone.append(why)
            os.remove(existing)  # before the new record: a kill now leaves no output rather than a stale one
        input_path = os.path.join(input_root, rel_path)
        try:
            if records is not None:
                records.will_write(rel_path, suffix)
            upscale_file(upsampler, input_path, os.path.join(output_root, output_name(rel_path, False, suffix)),
                         alpha_upsampler, outscale)
        except PER_IMAGE_ERRORS as error:
            failure = failure_of(input_path, error)
            report.failed[rel_path] = failure.message if isinstance(error, ValueError) else str(failure)
            continue
        report.written.append(rel_path)
    return report
