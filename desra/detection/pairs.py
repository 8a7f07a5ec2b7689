"""Find the images a run works on and where their super-resolved versions are.

Two layouts are understood (``datasets.detect`` of ``options/detect.yml``):

* **folders**: ``dataroot_mse`` and ``dataroot_gan`` hold the MSE-SR and GAN-SR results, as the DeSRA dataset does
  (``<method>/MSE-SR/<sub>/<img>``, ``<method>/GAN-SR/<sub>/<img>``). Files are matched by relative path and file
  stem, so ``sub/0001.png`` pairs with ``sub/0001.jpg``; subfolders are searched. An optional ``dataroot_lq`` adds
  the LR images to the report.
* **LR**: ``dataroot_lq`` alone; the SR results are made by the command's networks and cached as
  ``<run>/sr_<role>/<name>.png``.

Every image is known by its *name*: its relative path without extension, POSIX separators (``sub/0001``); all
outputs of the image are stored under that name. ``meta_info_file`` restricts a run to the names it lists.
"""
import os
from dataclasses import dataclass, field

import yaml

from desra.data.paired_files import stem_of
from desra.utils.img_io import IMAGE_EXTENSIONS, list_images


@dataclass
class Failure:
    """An image that could not be processed.

    Attributes:
        name (str): The image's name (see the module docstring).
        message (str): What went wrong, naming the file(s) involved (``str(failure)`` prefixes the name).
    """
    name: str
    message: str

    def __str__(self):
        return f'{self.name}: {self.message}'


@dataclass
class ImageItem:
    """One image of a run.

    Attributes:
        name (str): Relative path without extension, POSIX separators.
        sr_paths (dict[str, str]): SR result per role (``'mse'``, ``'gan'``, ``'finetuned'``). In LR mode these are
            cache files that may not exist yet.
        lq_path (str | None): The LR image, when known.
    """
    name: str
    sr_paths: dict = field(default_factory=dict)
    lq_path: str = None


def index_folder(root, label):
    """Map the name of every file under ``root`` (searched recursively) to its path.

    Every file is listed, not only known image extensions, so that a stray file is reported when it is read.

    Args:
        root (str): The folder.
        label (str): What the folder holds (``'GAN-SR'``), used in messages.

    Returns:
        tuple[dict[str, str], list[Failure]]: name -> path, and one failure per name that two files share
        (``a.png`` and ``a.jpg``: which one to use is ambiguous, so neither is used).

    Raises:
        FileNotFoundError: ``root`` is not a folder (the message names the option's label).
    """
    try:
        rel_paths = list_images(root, extensions=None)
    except FileNotFoundError:
        raise FileNotFoundError(f'{root}: no such folder ({label} images)') from None
    by_name = {}
    for rel_path in rel_paths:
        by_name.setdefault(stem_of(rel_path), []).append(os.path.join(root, rel_path))
    index = {name: paths[0] for name, paths in by_name.items() if len(paths) == 1}
    failures = [Failure(name, f'several {label} files share this name: {", ".join(paths)}')
                for name, paths in by_name.items() if len(paths) > 1]
    return index, failures


def read_name_list(meta_info_file, meta_info_key=None):
    """Read the image names a run is restricted to.

    Args:
        meta_info_file (str): A text file in basicsr's meta-info style (one relative path per line; the first
            whitespace-separated word is used, blank lines and ``#`` comments are skipped), or a YAML file holding
            a list of names or, with ``meta_info_key``, a mapping whose entry ``meta_info_key`` is such a list
            (``datasets/demo/splits.yml`` with key ``finetune``).
        meta_info_key (str | None): Entry of a YAML mapping to read.

    Returns:
        list[str]: Names (relative paths; a known image extension is dropped, so ``0001.png`` and ``0001`` agree).

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
            entries = [line.split()[0] for line in f if line.strip() and not line.lstrip().startswith('#')]
    return [stem_of(str(entry)) if str(entry).lower().endswith(IMAGE_EXTENSIONS) else str(entry)
            for entry in entries]


def restrict(index, names, label):
    """Keep the entries of ``index`` whose name is in ``names`` (all when ``names`` is None).

    Returns:
        tuple[dict[str, str], list[Failure]]: The kept entries, and one failure per listed name not in ``index``.
    """
    if names is None:
        return index, []
    failures = [Failure(name, f'listed in meta_info_file but there is no such {label} image')
                for name in names if name not in index]
    return {name: index[name] for name in names if name in index}, failures


def collect_items(dataset_opt, run_root, roles=('mse', 'gan')):
    """List the images of a run from its ``datasets.<phase>`` options.

    Args:
        dataset_opt (dict): ``dataroot_mse`` + ``dataroot_gan`` (folders mode, only for roles mse and gan) or
            ``dataroot_lq`` alone (LR mode); optional ``dataroot_lq`` in folders mode, ``meta_info_file`` and
            ``meta_info_key``.
        run_root (str): The run folder; LR mode caches the SR results in ``<run_root>/sr_<role>/``.
        roles (tuple[str]): The SR results each image needs.

    Returns:
        tuple[list[ImageItem], list[Failure], bool]: Items sorted by name; images that cannot be paired (a missing
        counterpart, a shared name, a listed name not found), each naming the paths involved; and whether the SR
        results have to be made from the LR images (LR mode).

    Raises:
        ValueError: The options name neither layout.
        FileNotFoundError: A dataroot or the meta_info_file is missing.
    """
    names = None
    if dataset_opt.get('meta_info_file'):
        names = read_name_list(dataset_opt['meta_info_file'], dataset_opt.get('meta_info_key'))
    folders_mode = bool(dataset_opt.get('dataroot_mse') or dataset_opt.get('dataroot_gan'))
    lq_root = dataset_opt.get('dataroot_lq')
    if folders_mode:
        if set(roles) != {'mse', 'gan'}:
            raise ValueError('this command makes its SR results itself: set dataroot_lq, not dataroot_mse/gan')
        if not (dataset_opt.get('dataroot_mse') and dataset_opt.get('dataroot_gan')):
            raise ValueError('folders mode needs both dataroot_mse and dataroot_gan')
    elif not lq_root:
        raise ValueError('set datasets dataroot_mse + dataroot_gan (SR results on disk) or dataroot_lq '
                         '(LR images, with network_mse/network_gan to super-resolve them)')

    failures = []
    lq_index = {}
    if lq_root:
        lq_index, lq_failures = index_folder(lq_root, 'LR')
        failures += lq_failures
    if not folders_mode:
        lq_index, missing = restrict(lq_index, names, 'LR')
        items = [ImageItem(name, {role: os.path.join(run_root, f'sr_{role}', f'{name}.png') for role in roles},
                           lq_path) for name, lq_path in sorted(lq_index.items())]
        return items, failures + missing, True

    mse_root, gan_root = dataset_opt['dataroot_mse'], dataset_opt['dataroot_gan']
    mse_index, mse_failures = index_folder(mse_root, 'MSE-SR')
    gan_index, gan_failures = index_folder(gan_root, 'GAN-SR')
    ambiguous = {failure.name for failure in mse_failures + gan_failures}
    failures += mse_failures + gan_failures
    if names is None:
        names = set(mse_index) | set(gan_index)
    items = []
    for name in sorted(set(names) - ambiguous):
        mse_path, gan_path = mse_index.get(name), gan_index.get(name)
        if mse_path and gan_path:
            items.append(ImageItem(name, {'mse': mse_path, 'gan': gan_path}, lq_index.get(name)))
            continue
        if not mse_path and not gan_path:
            failures.append(Failure(name, f'listed in meta_info_file but in neither {mse_root} (MSE-SR) nor '
                                          f'{gan_root} (GAN-SR)'))
        elif not gan_path:
            failures.append(Failure(name, f'{mse_path} (MSE-SR) has no GAN-SR counterpart: no file named '
                                          f'"{name}.*" in {gan_root}'))
        else:
            failures.append(Failure(name, f'{gan_path} (GAN-SR) has no MSE-SR counterpart: no file named '
                                          f'"{name}.*" in {mse_root}'))
    return items, failures, False
