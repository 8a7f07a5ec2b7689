"""Registration on import, the way basicsr and Real-ESRGAN do it."""
import importlib
from os import path as osp

from basicsr.utils import scandir


def import_modules_with_suffix(package, package_file, suffix):
    """Import every module ``<package>.<name>`` whose file ``<name><suffix>`` sits beside ``package_file``.

    Importing a module runs its ``@ARCH_REGISTRY.register()`` (or DATASET_/LOSS_/MODEL_) decorators, which is what
    makes a YAML ``type:`` name resolve. Modules are imported in sorted order so registration is reproducible.

    Args:
        package (str): Dotted package name, e.g. ``'desra.models'``.
        package_file (str): The package's ``__file__``.
        suffix (str): File-name ending that marks a registrable module, e.g. ``'_model.py'``.

    Returns:
        list[module]: The imported modules.
    """
    folder = osp.dirname(osp.abspath(package_file))
    names = sorted(osp.splitext(name)[0] for name in scandir(folder) if name.endswith(suffix))
    return [importlib.import_module(f'{package}.{name}') for name in names]
