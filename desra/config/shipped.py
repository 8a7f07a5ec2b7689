"""The files shipped inside the package, which ``desra-options`` lists and copies out: the option templates and the
demo data.

The YAML files of the repository's ``options/`` (``detect.yml``, ``finetune_realesrgan_x4plus.yml``, ...,
``demo/*.yml``) and the demo set of ``datasets/demo/`` (LR and HR images, ``splits.yml``, the tail of the demo's MSE
model) are installed as package data under ``desra/options/`` and ``desra/demo/`` (in a checkout both are symbolic
links, to ``../options`` and ``../datasets/demo``, so there is one copy of each file). After ``pip install desra``
they are copied out to be edited and passed to ``-opt``::

    desra-options list                      # the template names, e.g. detect.yml, demo/detect.yml
    desra-options copy options              # all of them into ./options/ (existing files are kept)
    desra-options copy . detect.yml         # one of them into ./detect.yml
    desra-options demo                      # the demo data into ./datasets/demo/, where options/demo/*.yml look
    python -m desra.option_templates copy options --force   # the same command, overwriting

Relative paths inside the templates (``datasets/...``, ``experiments/pretrained_models/...``) are resolved against
the folder the command runs in, as ``results/`` and ``experiments/`` are.
"""
import os
import shutil
from importlib.resources import as_file, files

from desra.io.images import atomic_output


#: What the package ships: kind -> (folder in the package, file endings listed).
SHIPPED = {'options': ('options', ('.yml',)),
           'demo': ('demo', ('.png', '.yml', '.pth', '.md'))}


def shipped_root(kind):
    """The packaged folder of ``kind`` (a key of :data:`SHIPPED`; an ``importlib.resources`` Traversable)."""
    return files('desra').joinpath(SHIPPED[kind][0])


def list_shipped(kind):
    """The names of the shipped files of ``kind``, relative to its folder with ``/`` separators, sorted.

    Returns:
        list[str]: E.g. for ``'options'`` ``['build_dataset.yml', 'demo/detect.yml', 'detect.yml', ...]``.
    """
    names = []
    pending = [(shipped_root(kind), '')]
    while pending:
        folder, prefix = pending.pop()
        for entry in folder.iterdir():
            if entry.is_dir():
                pending.append((entry, f'{prefix}{entry.name}/'))
            elif entry.name.endswith(SHIPPED[kind][1]):
                names.append(prefix + entry.name)
    return sorted(names)


def copy_shipped(kind, dest, names=None, force=False):
    """Copy shipped files into ``dest``, keeping their relative paths (``demo/detect.yml`` ->
    ``dest/demo/detect.yml``), each atomically.

    Args:
        kind (str): A key of :data:`SHIPPED`.
        dest (str): Target folder (created).
        names (list[str] | None): Names from :func:`list_shipped`; None = all.
        force (bool): Overwrite files that exist (otherwise they are kept and reported).

    Returns:
        tuple[list[str], list[str]]: The paths written and the paths kept because they existed.

    Raises:
        ValueError: A name is not shipped (the message lists the available ones).
    """
    available = list_shipped(kind)
    unknown = [name for name in names or [] if name not in available]
    if unknown:
        raise ValueError(f'no shipped {kind} file {", ".join(unknown)}; available: {", ".join(available)}')
    written, kept = [], []
    for name in names or available:
        target = os.path.join(dest, *name.split('/'))
        if os.path.exists(target) and not force:
            kept.append(target)
            continue
        with as_file(shipped_root(kind).joinpath(*name.split('/'))) as source, atomic_output(target) as tmp_path:
            shutil.copyfile(source, tmp_path)
        written.append(target)
    return written, kept
