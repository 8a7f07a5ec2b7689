"""How images are named across folders: by relative path without extension, so ``a/b.png`` pairs with ``a/b.jpg``.

Every stage matches its inputs this way (MSE-SR with GAN-SR, masks with SR images, LR with pseudo-GT), and
``meta_info_file`` lists restrict a run to some names.
"""
import os
import re
from dataclasses import dataclass

import yaml

from desra.io.images import IMAGE_EXTENSIONS, list_images
from desra.io.paths import not_found
from desra.io.records import OutputRecords, read_output_records


@dataclass
class Failure:
    """An image that could not be used or processed (the batch runtime's rules: :mod:`desra.batch.failures`).

    Attributes:
        name (str): The image's name (:func:`stem_of`).
        message (str): What went wrong, naming the file(s) involved (``str(failure)`` prefixes the name).
    """
    name: str
    message: str

    def __str__(self):
        return f'{self.name}: {self.message}'


#: Formats that cannot hold an alpha channel; RGBA inputs in them are written as PNG instead.
NO_ALPHA_EXTENSIONS = ('.jpg', '.jpeg', '.bmp', '.ppm', '.pgm')
#: Of those, the formats an RGBA input can come in (32-bit BMP): their output may be the PNG twin.
ALPHA_TO_PNG_EXTENSIONS = ('.bmp',)


def output_name(path, has_alpha, suffix=''):
    """The output's path for input ``path``: the same, ``<stem>_<suffix><ext>`` with a ``suffix`` (Real-ESRGAN's
    naming), and as PNG when the image has alpha and the input's format cannot hold it."""
    root, ext = os.path.splitext(path)
    root = f'{root}_{suffix}' if suffix else root
    return f'{root}.png' if has_alpha and ext.lower() in NO_ALPHA_EXTENSIONS else f'{root}{ext}'


def find_output(output_root, rel_path, suffix=''):
    """The existing output for input ``rel_path`` (see :func:`output_name`), or None. The PNG twin counts only for
    an input format that can hold alpha but whose output cannot (BMP): for a JPEG the PNG of that name is another
    input's output."""
    candidates = [output_name(rel_path, False, suffix)]
    if os.path.splitext(rel_path)[1].lower() in ALPHA_TO_PNG_EXTENSIONS:
        candidates.append(output_name(rel_path, True, suffix))
    for candidate in candidates:
        path = os.path.join(output_root, candidate)
        if os.path.isfile(path):
            return path
    return None


def recorded_input_names(root):
    """``{output rel path: input name}`` of the outputs that ``desra/infer.py`` made in ``root``, from the folder's
    record (:class:`~desra.io.records.OutputRecords`): infer's output of ``photo.jpg`` is ``photo_out.jpg``
    (``--suffix out``, Real-ESRGAN's default), which must pair with the other folders' ``photo``. Empty without a
    record."""
    _, outputs, _ = read_output_records(os.path.join(root, OutputRecords.FILE_NAME))
    names = {}
    for rel_path, suffix in outputs:
        for has_alpha in (False, True):
            names.setdefault(output_name(rel_path, has_alpha, suffix), stem_of(rel_path))
    return names


def stem_of(rel_path):
    """The name of the image at ``rel_path`` (relative to its folder): ``'a/b.png'`` -> ``'a/b'``, POSIX separators."""
    return os.path.splitext(rel_path.replace(os.sep, '/'))[0]


def index_folder(root, label, extensions=None):
    """Map the name of every file under ``root`` (searched recursively) to its path.

    A file's name is its relative path without extension (:func:`stem_of`), except for the outputs that
    ``desra/infer.py`` made there: those are named after their inputs (:func:`recorded_input_names`), so that
    infer's ``photo_out.png`` pairs with ``photo.png``.

    Args:
        root (str): The folder.
        label (str): What the folder holds (``'GAN-SR'``), used in messages.
        extensions (tuple[str] | None): File endings to list; None lists every file, so that a stray file is
            reported when it is read rather than silently ignored.

    Returns:
        tuple[dict[str, str], list[Failure]]: name -> path (``root`` joined), and one failure per name that two
        files share (``a.png`` and ``a.jpg``: which one to use is ambiguous, so neither is used).

    Raises:
        FileNotFoundError: ``root`` is not a folder (the message names the label).
    """
    try:
        rel_paths = list_images(root, extensions=extensions)
    except FileNotFoundError:
        raise FileNotFoundError(f'{root}: {not_found(root, "folder")} ({label} images)') from None
    input_names = recorded_input_names(root)
    by_name = {}
    for rel_path in rel_paths:
        by_name.setdefault(input_names.get(rel_path, stem_of(rel_path)), []).append(os.path.join(root, rel_path))
    index = {name: paths[0] for name, paths in by_name.items() if len(paths) == 1}
    failures = [Failure(name, f'several {label} files share this name: {", ".join(paths)}')
                for name, paths in by_name.items() if len(paths) > 1]
    return index, failures


def index_images(root, label):
    """Like :func:`index_folder` for image files only, but a shared name is an error.

    Raises:
        FileNotFoundError: ``root`` is not a folder.
        ValueError: Two images share a name; the message names both files.
    """
    index, failures = index_folder(root, label, extensions=IMAGE_EXTENSIONS)
    if failures:
        raise ValueError(f'{failures[0]}; keep only one of them')
    return index


def read_name_list(meta_info_file, meta_info_key=None):
    """Read the image names a run is restricted to.

    Args:
        meta_info_file (str): A text file in basicsr's meta-info style (one relative path per line, which may hold
            spaces; basicsr's ``0001_s001.png (480,480,3)`` lines work, see :func:`meta_info_name`; blank lines and
            ``#`` comments are skipped), or a YAML file holding a list of names or, with ``meta_info_key``, a mapping
            whose entry ``meta_info_key`` is such a list (``datasets/demo/splits.yml`` with key ``finetune``).
        meta_info_key (str | None): Entry of a YAML mapping to read.

    Returns:
        list[str]: Names in file order (a known image extension is dropped, so ``0001.png`` and ``0001`` agree).

    Raises:
        FileNotFoundError / ValueError: The file is missing, or does not hold a list under the key.
    """
    if not os.path.isfile(meta_info_file):
        raise FileNotFoundError(f'{meta_info_file}: no such meta_info_file')
    with open(meta_info_file, encoding='utf-8') as f:
        if meta_info_file.lower().endswith(('.yml', '.yaml')):
            entries = yaml.safe_load(f)
            if meta_info_key is not None:
                if not isinstance(entries, dict) or meta_info_key not in entries:
                    raise ValueError(f'{meta_info_file}: no entry "{meta_info_key}" (meta_info_key)')
                entries = entries[meta_info_key]
            if not isinstance(entries, list):
                raise ValueError(f'{meta_info_file}: expected a list of image names'
                                 + (f' under "{meta_info_key}"' if meta_info_key else ' (or set meta_info_key)'))
        else:
            entries = [meta_info_name(line) for line in f
                       if line.strip() and not line.lstrip().startswith('#')]
    return [stem_of(str(entry)) if str(entry).lower().endswith(IMAGE_EXTENSIONS) else str(entry)
            for entry in entries]


#: basicsr's shape suffix of a meta-info line: `` (h,w,c)``.
_SHAPE_SUFFIX = re.compile(r'\s+\(\d+,\s*\d+,\s*\d+\)$')


def meta_info_name(line):
    """The image name of a ``meta_info.txt`` line: the whole line without surrounding whitespace and without
    basicsr's `` (h,w,c)`` suffix, so names with inner spaces round-trip (``my photo.png``)."""
    return _SHAPE_SUFFIX.sub('', line.strip())


def meta_info_name_problem(name):
    """Why ``name`` cannot be a line of ``meta_info.txt`` (None when it can).

    Names are stored one per line and read by :func:`meta_info_name`, so a name must not hold a line break or other
    control character, begin or end with whitespace, begin with ``#`` (a comment) or end like a shape suffix.
    """
    if any(ord(char) < 32 or ord(char) == 127 for char in name):
        return 'it holds a line break or another control character'
    if name != name.strip():
        return 'it begins or ends with whitespace'
    if name.startswith('#') or meta_info_name(name) != name:
        return 'it begins with "#" or ends like a " (h,w,c)" shape'
    return None
