"""YAML options for every DeSRA command (detect, build_dataset, train, test, infer), with basicsr's conventions.

``-opt file.yml``, ``--force_yml key=value`` overrides (``a:b:c=v`` as in basicsr, ``a.b.c=v`` also accepted,
missing keys created), ``num_gpu: auto`` (CUDA when present, else CPU), ``--launcher pytorch`` for torchrun,
``manual_seed``, ``--root DIR`` (the folder that holds ``results/``, ``experiments/`` and ``tb_logger/``; default the
current directory), and for training ``--auto_resume``, ``--debug`` and basicsr's ``experiments/<name>/`` paths.

Safety (issue 10): option files and ``--force_yml`` values are read by a safe YAML loader (no Python objects, no
``eval``); ``name`` must be a plain folder name; every key is checked against what the command reads
(:mod:`desra.config.schema`); outputs may not overlap inputs and every input must exist
(:mod:`desra.config.preflight`) before a folder is created.
"""
import argparse
import os
import random
import re
from os import path as osp

import torch
import yaml
from basicsr.utils import set_random_seed
from basicsr.utils.dist_util import get_dist_info, init_dist

from desra.config.layout import output_folders
from desra.config.heldout import check_heldout_apart
from desra.config.preflight import check_inputs_exist, check_outputs_apart
from desra.config.schema import OptionError, check_options
from desra.io.images import set_max_image_pixels
from desra.registry import import_user_modules


class SafeOrderedLoader(yaml.SafeLoader):
    """PyYAML's safe loader (standard tags only: no ``!!python/...`` objects); mappings keep their key order.

    Unlike plain YAML 1.1 it reads ``1e-8`` and ``1E+3`` (exponent without a dot) as floats, as users of
    basicsr's option files expect, and it refuses a key given twice in one mapping (the first would be lost).
    """

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f'key "{key}" appears twice in one mapping (first at line {seen[key] + 1})',
                    key_node.start_mark)
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep)


SafeOrderedLoader.add_implicit_resolver(
    'tag:yaml.org,2002:float', re.compile(r'^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$'),
    list('-+0123456789'))


def yaml_error_message(source, error):
    """``<source>:<line>:<col>: <problem>`` for a YAML error (1-based line and column, as editors count)."""
    mark = getattr(error, 'problem_mark', None) or getattr(error, 'context_mark', None)
    problem = getattr(error, 'problem', None) or str(error)
    if mark is None:
        return f'{source}: {problem}'
    return f'{source}:{mark.line + 1}:{mark.column + 1}: {" ".join(str(problem).split())}'


def load_yaml(path):
    """Read a YAML option file into dicts in file order, with the safe loader.

    Raises:
        FileNotFoundError: No such file.
        OptionError: Malformed YAML, a ``!!python/...`` tag, a duplicate key, or not a mapping: one line naming
            the file, line and column.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: no such option file')
    with open(path, encoding='utf-8') as f:
        try:
            opt = yaml.load(f, Loader=SafeOrderedLoader)
        except yaml.YAMLError as error:
            raise OptionError(yaml_error_message(path, error)) from None
    if not isinstance(opt, dict):
        raise OptionError(f'{path}: an option file must hold a YAML mapping, found {type(opt).__name__}')
    return opt


def parse_value(text, entry):
    """The typed value of a ``--force_yml`` value: a YAML scalar or flow collection read with the safe loader
    (``-1`` int, ``1e-8`` float, ``[1, 2]`` list, ``~`` None, ``true`` bool, anything else a string).

    Raises:
        OptionError: Malformed YAML (``[1, 2``), naming the entry.
    """
    try:
        return yaml.load(text, Loader=SafeOrderedLoader)
    except yaml.YAMLError as error:
        problem = ' '.join(str(getattr(error, 'problem', None) or error).split())
        raise OptionError(f'--force_yml entry "{entry}": malformed value: {problem}') from None


def apply_overrides(opt, entries):
    """Apply ``--force_yml`` entries such as ``datasets:detect:dataroot_gan=/data/gan`` in place.

    Values are typed by :func:`parse_value`; intermediate mappings are created when missing (the option check
    that follows rejects keys the command does not read).

    Raises:
        OptionError: An entry has no ``=``, an empty key, a malformed value, or walks through a value that is not
            a mapping.
    """
    for entry in entries or []:
        if '=' not in entry:
            raise OptionError(f'--force_yml entry "{entry}" must look like key:subkey=value')
        keys, value = (part.strip() for part in entry.split('=', 1))
        keys = keys.replace('.', ':').split(':')
        if not all(keys):
            raise OptionError(f'--force_yml entry "{entry}": empty key')
        node = opt
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise OptionError(f'--force_yml entry "{entry}": "{key}" is not a mapping')
        node[keys[-1]] = parse_value(value, entry)
    return opt


def check_num_gpu(opt, option_file):
    """Refuse ``num_gpu`` > 0 on a machine without CUDA, naming the option file (instead of a CUDA traceback later).

    Raises:
        ValueError: ``opt['num_gpu']`` (numeric) asks for GPUs that are not there.
    """
    if opt['num_gpu'] > 0 and not torch.cuda.is_available():
        raise ValueError(f'{option_file}: num_gpu is {opt["num_gpu"]} but CUDA is not available; '
                         'use num_gpu: 0 (CPU) or auto')


def build_parser(description, command):
    """basicsr's command line (``-opt``, ``--launcher``, ``--local_rank``, ``--force_yml``; for training also
    ``--auto_resume`` and ``--debug``) plus ``--root``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('-opt', required=True, help='Path to the option YAML file.')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'], default='none',
                        help='Job launcher: "pytorch" when started by torchrun.')
    parser.add_argument('--local_rank', type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument('--force_yml', nargs='+', default=None,
                        help='Override option keys, e.g. datasets:detect:dataroot_gan=/data/gan name=run2 '
                             '(a.b=v also accepted; values are typed as YAML)')
    parser.add_argument('--root', default=None,
                        help='Folder holding results/, experiments/ and tb_logger/ (default: the current folder).')
    if command == 'train':
        parser.add_argument('--auto_resume', action='store_true', help='Resume from the latest training state.')
        parser.add_argument('--debug', action='store_true',
                            help='basicsr\'s debug mode: name debug_<name>, log every iteration, save every 8.')
    return parser


def _expand_paths(opt):
    """``~`` in every path option (``path:*``, ``datasets:*:dataroot_*`` / ``meta_info_file``) expanded."""
    paths = opt['path']
    for key, value in paths.items():
        if isinstance(value, str):
            paths[key] = osp.expanduser(value)
    for dataset in (opt.get('datasets') or {}).values():
        for key, value in dataset.items():
            if isinstance(value, str) and (key.startswith('dataroot_') or key == 'meta_info_file'):
                dataset[key] = osp.expanduser(value)


def _training_paths(opt, root):
    """basicsr's training folders: ``<root>/experiments/<name>/{models,training_states,visualization}``, the log
    in ``experiments/<name>``, tensorboard in ``<root>/tb_logger/<name>``; the dataset phases and scale."""
    paths = opt['path']
    experiments_root = osp.join(root, 'experiments', opt['name'])
    paths.update(experiments_root=experiments_root, models=osp.join(experiments_root, 'models'),
                 training_states=osp.join(experiments_root, 'training_states'), log=experiments_root,
                 visualization=osp.join(experiments_root, 'visualization'),
                 tb_logger=osp.join(root, 'tb_logger', opt['name']))
    for phase, dataset in opt['datasets'].items():
        dataset['phase'] = phase.split('_')[0]
        if 'scale' in opt:
            dataset['scale'] = opt['scale']
    if 'debug' in opt['name']:  # basicsr's debug mode
        if opt.get('val') is not None:
            opt['val']['val_freq'] = 8
        opt['logger']['print_freq'] = 1
        opt['logger']['save_checkpoint_freq'] = 8


def parse_command_options(description, command, args=None, root_path=None, preflight=True):
    """Parse the command line and option file of a DeSRA command and check them; nothing is written.

    Order: read the YAML safely, apply ``--force_yml``, check every key against the command's schema, set the paths,
    refuse outputs overlapping inputs, look for every input (``preflight``; not for ``train``: the training run
    first finds the state to resume from, which decides which weights are needed, then runs the preflight), and for
    ``test`` refuse test images that selected the fine-tuned checkpoint (:mod:`desra.config.heldout`). The
    command's run makes its folder once it has checked what only it can (images to pair, networks to build).

    Args:
        description (str): The command's one-line help.
        command (str): ``detect``, ``build_dataset``, ``train``, ``test`` or ``infer`` (selects the option schema,
            :data:`desra.config.schema.COMMAND_SCHEMAS`).
        args (list[str] | None): Command-line words (default: ``sys.argv[1:]``).
        root_path (str | None): Default of ``--root`` (None: the current directory).
        preflight (bool): Look for the inputs here.

    Returns:
        tuple[dict, argparse.Namespace]: The options, with ``dist``, ``rank``, ``world_size``, a numeric
        ``num_gpu``, ``manual_seed``, ``is_train``, ``root_path`` and the paths filled in: ``path.results_root``
        (default ``<root>/results``) and ``path.run_root`` (``<results_root>/<name>``), or for training basicsr's
        ``experiments_root``, ``models``, ``training_states``, ``log``, ``visualization`` and ``tb_logger``.

    Raises:
        OptionError (ValueError): Bad YAML, overrides, keys, types, ranges, run name or overlapping folders.
        MissingInputsError (ValueError): Inputs named by the options are missing (all listed).
    """
    args = build_parser(description, command).parse_args(args)
    opt = apply_overrides(load_yaml(args.opt), args.force_yml)
    is_train = command == 'train'
    if is_train and args.debug and isinstance(opt.get('name'), str) and not opt['name'].startswith('debug'):
        opt['name'] = f'debug_{opt["name"]}'
    import_user_modules(opt)  # the user's own registered archs, before the network blocks are checked
    check_options(opt, command, args.opt)
    set_max_image_pixels(opt)
    root = osp.abspath(osp.expanduser(args.root or root_path or os.getcwd()))
    opt.update(is_train=is_train, root_path=root)
    if is_train:
        opt['auto_resume'] = args.auto_resume

    if args.launcher == 'none':
        opt['dist'] = False
    else:
        opt['dist'] = True
        init_dist(args.launcher, **(opt.get('dist_params') or {}))  # gloo without CUDA (desra.basicsr_compat)
    opt['rank'], opt['world_size'] = get_dist_info()

    num_gpu = opt.get('num_gpu', 'auto')
    opt['num_gpu'] = torch.cuda.device_count() if num_gpu == 'auto' else num_gpu
    check_num_gpu(opt, args.opt)

    seed = opt.get('manual_seed')
    if seed is None:
        seed = opt['manual_seed'] = random.randint(1, 10000)
    set_random_seed(seed + opt['rank'])

    if opt.get('path') is None:
        opt['path'] = {}
    _expand_paths(opt)
    if is_train:
        _training_paths(opt, root)
    else:
        opt['path']['results_root'] = opt['path'].get('results_root') or osp.join(root, 'results')
        opt['path']['run_root'] = osp.join(opt['path']['results_root'], opt['name'])
    check_outputs_apart(opt, output_folders(opt, command), args.opt)
    if preflight and not is_train:
        check_inputs_exist(opt, command, args.opt)
    if command == 'test':
        check_heldout_apart(opt, args.opt)
    return opt, args
