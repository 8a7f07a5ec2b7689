"""YAML options for DeSRA's commands, with basicsr's conventions.

``-opt file.yml``, ``--force_yml key=value`` overrides (``a:b:c=v`` as in basicsr, ``a.b.c=v`` also accepted,
missing keys created), ``num_gpu: auto`` (CUDA when present, else CPU), ``--launcher pytorch`` for torchrun,
``manual_seed``, and results under ``<path.results_root>/<name>/`` (``results/<name>/`` by default).
Training uses basicsr's own ``parse_options`` (``desra/train.py``); every other command uses
:func:`parse_command_options`.
"""
import argparse
import os
import random
from os import path as osp

import torch
import yaml
from basicsr.utils import set_random_seed
from basicsr.utils.dist_util import get_dist_info, init_dist
from basicsr.utils.options import _postprocess_yml_value, ordered_yaml

from desra.utils.registry import import_user_modules

#: The repository root: ``results/`` and ``experiments/`` are resolved against it, as basicsr does.
ROOT_PATH = osp.abspath(osp.join(osp.dirname(__file__), osp.pardir, osp.pardir))


def load_yaml(path):
    """Read a YAML option file into (ordered) dicts.

    Raises:
        FileNotFoundError / ValueError: The file is missing or does not hold a mapping; the message names it.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: no such option file')
    with open(path, encoding='utf-8') as f:
        opt = yaml.load(f, Loader=ordered_yaml()[0])
    if not isinstance(opt, dict):
        raise ValueError(f'{path}: an option file must hold a YAML mapping, found {type(opt).__name__}')
    return opt


def apply_overrides(opt, entries):
    """Apply ``--force_yml`` entries such as ``datasets:detect:dataroot_gan=/data/gan`` in place.

    Values are typed as basicsr types them (numbers, booleans, ``~``/``none``, lists); intermediate mappings are
    created when missing.

    Raises:
        ValueError: An entry has no ``=`` or walks through a value that is not a mapping.
    """
    for entry in entries or []:
        if '=' not in entry:
            raise ValueError(f'--force_yml entry "{entry}" must look like key:subkey=value')
        keys, value = (part.strip() for part in entry.split('=', 1))
        keys = keys.replace('.', ':').split(':')
        node = opt
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise ValueError(f'--force_yml entry "{entry}": "{key}" is not a mapping')
        node[keys[-1]] = _postprocess_yml_value(value)
    return opt


def check_num_gpu(opt, option_file):
    """Refuse ``num_gpu`` > 0 on a machine without CUDA, naming the option file (instead of a CUDA traceback later).

    Raises:
        ValueError: ``opt['num_gpu']`` (numeric) asks for GPUs that are not there.
    """
    if opt['num_gpu'] > 0 and not torch.cuda.is_available():
        raise ValueError(f'{option_file}: num_gpu is {opt["num_gpu"]} but CUDA is not available; '
                         'use num_gpu: 0 (CPU) or auto')


def resolve_device(opt):
    """The torch device for ``opt['num_gpu']`` (0 = CPU; ``auto`` must already be resolved)."""
    if opt['num_gpu'] == 0:
        return torch.device('cpu')
    return torch.device('cuda', torch.cuda.current_device())


def parse_command_options(description, is_train=False, args=None, root_path=ROOT_PATH):
    """Parse the command line and option file of a DeSRA command.

    Args:
        description (str): The command's one-line help.
        is_train (bool): Stored in ``opt['is_train']`` for basicsr models.
        args (list[str] | None): Command-line words (default: ``sys.argv[1:]``).
        root_path (str): Folder against which ``results/<name>`` is placed.

    Returns:
        tuple[dict, argparse.Namespace]: The options, with ``dist``, ``rank``, ``world_size``, a numeric
        ``num_gpu``, ``manual_seed``, ``path.results_root`` (default ``<root>/results``) and ``path.run_root``
        (``<results_root>/<name>``, created) filled in, and the parsed arguments
        (``opt``, ``launcher``, ``force_yml``).
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('-opt', required=True, help='Path to the option YAML file.')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'], default='none',
                        help='Job launcher: "pytorch" when started by torchrun.')
    parser.add_argument('--local_rank', type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument('--force_yml', nargs='+', default=None,
                        help='Override option keys, e.g. datasets:detect:dataroot_gan=/data/gan name=run2')
    args = parser.parse_args(args)

    opt = apply_overrides(load_yaml(args.opt), args.force_yml)
    import_user_modules(opt)  # the user's own registered archs, before any network is built
    if 'name' not in opt:
        raise ValueError(f'{args.opt}: the option "name" is required (results go to results/<name>/)')
    opt['is_train'] = is_train

    if args.launcher == 'none':
        opt['dist'] = False
    else:
        opt['dist'] = True
        init_dist(args.launcher, **opt.get('dist_params', {}))  # gloo without CUDA (desra.utils.basicsr_compat)
    opt['rank'], opt['world_size'] = get_dist_info()

    num_gpu = opt.get('num_gpu', 'auto')
    opt['num_gpu'] = torch.cuda.device_count() if num_gpu == 'auto' else int(num_gpu)
    check_num_gpu(opt, args.opt)

    seed = opt.get('manual_seed')
    if seed is None:
        seed = opt['manual_seed'] = random.randint(1, 10000)
    set_random_seed(seed + opt['rank'])

    paths = opt.setdefault('path', {})
    paths['results_root'] = paths.get('results_root') or osp.join(root_path, 'results')
    for key, value in paths.items():
        if isinstance(value, str):
            paths[key] = osp.expanduser(value)
    paths['run_root'] = osp.join(paths['results_root'], opt['name'])
    os.makedirs(paths['run_root'], exist_ok=True)
    return opt, args
