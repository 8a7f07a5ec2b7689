"""How images are named across folders: by relative path without extension, so ``a/b.png`` pairs with ``a/b.jpg``."""
import os

from desra.utils.img_io import list_images


def stem_of(rel_path):
    """The name of the image at ``rel_path`` (relative to its folder): ``'a/b.png'`` -> ``'a/b'``, POSIX separators."""
    return os.path.splitext(rel_path.replace(os.sep, '/'))[0]


def index_by_stem(root):
    """Map the name (:func:`stem_of`) of every image under ``root`` to its path relative to ``root``.

    Args:
        root (str): Folder searched recursively (hidden files skipped, see :func:`list_images`).

    Returns:
        dict[str, str]: ``{'a/b': 'a/b.png', ...}``.

    Raises:
        FileNotFoundError: ``root`` is not a folder.
        ValueError: Two images share a name (``b.png`` and ``b.jpg``); the message names both, since which one is
            meant cannot be guessed.
    """
    index = {}
    for rel_path in list_images(root):
        stem = stem_of(rel_path)
        if stem in index:
            raise ValueError(f'{root}: "{index[stem]}" and "{rel_path}" have the same name; keep only one of them')
        index[stem] = rel_path
    return index


def read_meta_info(meta_info_file):
    """The image names listed in a basicsr-style meta-info file.

    Each non-blank line holds a path relative to the data root; only its first word counts, so basicsr's
    ``0001_s001.png (480,480,3)`` lines work too. Lines starting with ``#`` are comments.

    Returns:
        list[str]: Names (:func:`stem_of`), in file order.

    Raises:
        FileNotFoundError: No such file.
    """
    if not os.path.isfile(meta_info_file):
        raise FileNotFoundError(f'{meta_info_file}: no such meta_info_file')
    with open(meta_info_file, encoding='utf-8') as f:
        return [stem_of(line.split()[0]) for line in f if line.strip() and not line.lstrip().startswith('#')]
