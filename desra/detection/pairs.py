"""Find the images a run works on and where their super-resolved versions are.

Two layouts are understood (``datasets.detect`` of ``options/detect.yml``):

* **folders**: ``dataroot_mse`` and ``dataroot_gan`` hold the MSE-SR and GAN-SR results, as the DeSRA dataset does
  (``<method>/MSE-SR/<sub>/<img>``, ``<method>/GAN-SR/<sub>/<img>``). Files are matched by relative path and file
  stem, so ``sub/0001.png`` pairs with ``sub/0001.jpg`` (and ``desra/infer.py``'s output ``sub/0001_out.png`` with
  both, :func:`desra.io.names.index_folder`); subfolders are searched. An optional ``dataroot_lq`` adds the LR images
  to the report.
* **LR**: ``dataroot_lq`` alone; the SR results are made by the command's networks and cached as
  ``<run>/sr_<role>/<name>.png``.

Every image is known by its *name*: its relative path without extension, POSIX separators (``sub/0001``); all
outputs of the image are stored under that name. ``meta_info_file`` restricts a run to the names it lists.
"""
import os
from dataclasses import dataclass, field

from desra.io.names import Failure, index_folder, read_name_list


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
        given, absent = (('dataroot_mse', 'dataroot_gan') if dataset_opt.get('dataroot_mse')
                         else ('dataroot_gan', 'dataroot_mse'))
        if not dataset_opt.get(absent):
            lr_mode = (f'; for LR images only (dataroot_lq, made into SR results by network_mse/network_gan) set '
                       f'{given} to ~') if lq_root else ''
            raise ValueError(f'{given} is set but {absent} is not: SR results on disk need both folders{lr_mode}')
    elif not lq_root:
        raise ValueError('set datasets dataroot_lq (LR images, with network_mse/network_gan to super-resolve them) '
                         'or dataroot_mse + dataroot_gan (SR results on disk)')

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
