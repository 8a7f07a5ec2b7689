"""Super-resolve a folder of images: outputs named as the inputs, written atomically, finished ones skipped."""
import os
from dataclasses import dataclass, field

from tqdm import tqdm

from desra.utils.image_names import PER_IMAGE_ERRORS, capped_lines, failure_of
from desra.utils.img_io import decode_image, encode_image, list_images, read_image, write_image

#: Formats that cannot hold an alpha channel; RGBA inputs in them are written as PNG instead.
NO_ALPHA_EXTENSIONS = ('.jpg', '.jpeg', '.bmp', '.ppm', '.pgm')


@dataclass
class FolderRunReport:
    """What a folder run did. Paths are relative to the input folder."""
    written: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    failed: dict = field(default_factory=dict)  # relative path -> error message

    def summary(self):
        """One line, then one line per failure (the first :data:`~desra.utils.image_names.MAX_LISTED_FAILURES`,
        then a count)."""
        line = f'{len(self.written)} written, {len(self.skipped)} already done, {len(self.failed)} failed'
        return '\n'.join([line, capped_lines(list(self.failed.values()), indent='  FAILED ')]).rstrip()


def output_name(path, has_alpha):
    """The output's path: ``path``, as PNG when the image has alpha and ``path``'s format cannot hold it."""
    root, ext = os.path.splitext(path)
    return f'{root}.png' if has_alpha and ext.lower() in NO_ALPHA_EXTENSIONS else path


def find_output(output_root, rel_path):
    """The existing output for input ``rel_path`` (same name, or its PNG twin), or None."""
    for candidate in (rel_path, output_name(rel_path, has_alpha=True)):
        path = os.path.join(output_root, candidate)
        if os.path.isfile(path):
            return path
    return None


def upscale_file(upsampler, input_path, output_path, alpha_upsampler='model'):
    """Super-resolve one image file into ``output_path`` (atomic), keeping its depth, gray-ness and alpha.

    Returns:
        str: The path written: ``output_path``, or its PNG twin for an image with alpha (see :func:`output_name`).

    Raises:
        ImageReadError: ``input_path`` is not a readable image (the message names it).
    """
    return upscale_decoded(upsampler, decode_image(read_image(input_path)), output_path, alpha_upsampler)


def upscale_decoded(upsampler, decoded, output_path, alpha_upsampler='model'):
    """:func:`upscale_file` for an image already read and decoded, e.g. one LR image given to several networks.

    Args:
        upsampler (TiledUpsampler): The network to run.
        decoded (DecodedImage): The LR image (:func:`desra.utils.img_io.decode_image`); left unchanged, so one
            decoded image can feed several networks.
        output_path (str): Where to write the SR image.
        alpha_upsampler (str): See :meth:`TiledUpsampler.upscale`.

    Returns:
        str: The path written: ``output_path``, or its PNG twin for an image with alpha (see :func:`output_name`).
    """
    output_path = output_name(output_path, decoded.alpha is not None)
    write_image(output_path, encode_image(upsampler.upscale(decoded, alpha_upsampler=alpha_upsampler)))
    return output_path


def upscale_folder(upsampler, input_root, output_root, rel_paths=None, overwrite=False, alpha_upsampler='model',
                   show_progress=True):
    """Super-resolve every image under ``input_root`` into ``output_root`` with the same relative names.

    A file that cannot be read (or is too large, truncated, or runs out of memory:
    :data:`~desra.utils.image_names.PER_IMAGE_ERRORS`) is recorded with its path and reason and the run goes on;
    outputs are written
    atomically, so an interrupted run is continued by running it again (existing outputs are skipped unless
    ``overwrite``).

    Args:
        upsampler (TiledUpsampler): The network to run.
        input_root (str): Folder of LR images (searched recursively).
        output_root (str): Folder for the SR images.
        rel_paths (list[str] | None): Restrict to these relative paths; default every file under ``input_root``.
        overwrite (bool): Recompute outputs that exist.
        alpha_upsampler (str): See :meth:`TiledUpsampler.upscale`.
        show_progress (bool): Show a tqdm bar.

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
    for rel_path in tqdm(rel_paths, desc=f'SR {os.path.basename(os.path.normpath(output_root))}', unit='img',
                         disable=not show_progress):
        if not overwrite and find_output(output_root, rel_path):
            report.skipped.append(rel_path)
            continue
        input_path = os.path.join(input_root, rel_path)
        try:
            upscale_file(upsampler, input_path, os.path.join(output_root, rel_path), alpha_upsampler)
        except PER_IMAGE_ERRORS as error:
            failure = failure_of(input_path, error)
            report.failed[rel_path] = failure.message if isinstance(error, ValueError) else str(failure)
            continue
        report.written.append(rel_path)
    return report
