"""Registration on import, the way basicsr and Real-ESRGAN do it."""
import importlib
import re
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


#: A dotted module name (``my_pkg.my_arch``): what ``import_modules`` accepts.
MODULE_NAME = re.compile(r'[A-Za-z_]\w*(\.[A-Za-z_]\w*)*')


def import_user_modules(opt):
    """Import the modules that the top-level option ``import_modules`` names (a list of dotted module names, e.g.
    ``[my_pkg.my_arch]``), so that what they register in basicsr's registries (their own ``@ARCH_REGISTRY``
    architectures, datasets, losses) resolves in the options. Only names of modules on the Python path (an installed
    package, or ``PYTHONPATH``) are accepted, never file paths or code.

    Raises:
        ValueError: An entry is not a dotted module name, or its import fails; one line naming the module.
    """
    names = opt.get('import_modules') or []
    for name in [names] if isinstance(names, str) else names:
        if not isinstance(name, str) or not MODULE_NAME.fullmatch(name):
            raise ValueError(f'import_modules: {name!r} is not a dotted module name such as my_pkg.my_arch '
                             '(file paths and code are not accepted)')
        try:
            importlib.import_module(name)
        except Exception as error:  # ImportError, or any error raised while the module runs
            hint = ' (is its package installed or on PYTHONPATH?)' if isinstance(error, ModuleNotFoundError) else ''
            detail = str(error).splitlines()[0] if str(error) else ''
            raise ValueError(f'import_modules: cannot import {name}: {type(error).__name__}: {detail}{hint}') from None
