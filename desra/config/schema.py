"""The option keys every DeSRA command reads, their types and ranges, checked before a command does anything.

One schema per command (:data:`COMMAND_SCHEMAS`): a :class:`Block` per mapping, a :class:`Rule` per value. Unknown
keys are errors that give the key path and the closest valid name; wrong types and values out of range name the key.
Pass-through blocks that basicsr builds (``network_*``, ``*_opt``, ``optim_*``, ``scheduler``) stay open, but their
keys are checked against the keyword arguments of the class their ``type`` names (:class:`BuiltBlock`), so
``network_g: {num_blok: 23}`` is reported as ``network_g:num_blok`` before any network is built. Every problem of
an option set is reported at once (:class:`OptionError`).
"""
import difflib
import inspect
import math
import os

import torch

#: Number of suggestions difflib may give for a misspelt key.
_CLOSE_MATCHES = 1


class OptionError(ValueError):
    """Options that a command cannot run with; the message lists every problem, one per line, with its key path."""


def _type_name(value):
    return 'null' if value is None else type(value).__name__


def describe(value):
    """``value`` as an error message shows it: its YAML type and repr."""
    return 'null' if value is None else f'{_type_name(value)} {value!r}'


class Rule:
    """A leaf value: ``check(value)`` returns the (normalised) value or raises ValueError saying what is expected.

    Args:
        expected (str): What a valid value is, for the message (``'an integer >= 1'``).
        check (callable): ``value -> value`` (e.g. ``4000.0 -> 4000`` for integers); raises ValueError when invalid.
        nullable (bool): ``~`` (None) is accepted as "not set".
    """

    def __init__(self, expected, check, nullable=False):
        self.expected, self.check, self.nullable = expected, check, nullable

    def validate(self, value, key_path, errors):
        if value is None and self.nullable:
            return value
        try:
            return self.check(value)
        except (TypeError, ValueError):
            errors.append(f'{key_path}: must be {self.expected}, got {describe(value)}')
            return value


def _integer(low):
    def check(value):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not float(value).is_integer():
            raise ValueError
        if value < low:
            raise ValueError
        return int(value)  # YAML's 1e3 (a float) is an integer option's 1000, as basicsr's int(...) reads it
    return check


def integer(low=0, nullable=False):
    """An integer >= ``low`` (integral floats such as ``!!float 1e3`` accepted and converted)."""
    return Rule(f'an integer >= {low}', _integer(low), nullable)


def number(low=-math.inf, high=math.inf, low_open=False, high_open=False, nullable=False):
    """A real number in the interval; bounds included unless ``*_open``."""
    def check(value):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError
        if value < low or value > high or (low_open and value == low) or (high_open and value == high):
            raise ValueError
        return value
    if high == math.inf:
        expected = f'a number {">" if low_open else ">="} {low}'
    else:
        expected = f'a number in {"(" if low_open else "["}{low}, {high}{")" if high_open else "]"}'
    return Rule(expected, check, nullable)


def _is(types):
    def check(value):
        if isinstance(value, bool) and bool not in types:
            raise ValueError
        if not isinstance(value, types):
            raise ValueError
        return value
    return check


BOOL = Rule('true or false', _is((bool,)))
TEXT = Rule('a string', _is((str,)))
OPTIONAL_TEXT = Rule('a string', _is((str,)), nullable=True)
#: A file or folder: a string, ~ for "not set".
PATH = Rule('a path (string) or ~', _is((str,)), nullable=True)
ANY = Rule('anything', lambda value: value, nullable=True)


def choice(*values, nullable=False):
    """One of ``values`` (compared with ==, so ``false`` and ``0`` differ only in type: bools are checked first)."""
    def check(value):
        if not any(type(value) is type(allowed) and value == allowed for allowed in values):
            raise ValueError
        return value
    return Rule('one of ' + ', '.join('false' if v is False else str(v) for v in values), check, nullable)


def _string_list(value):
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError
    return value


def _int_pair(value):
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError
    return [_integer(1)(item) for item in value]


def _odd_integer(value):
    value = _integer(1)(value)
    if value % 2 == 0:
        raise ValueError
    return value


def check_run_name(value):
    """A run name: a plain folder name (no separator, not ``.`` / ``..``, not empty), so that ``results/<name>``,
    ``experiments/<name>`` and ``tb_logger/<name>`` stay inside their folders.

    Raises:
        ValueError: Anything else.
    """
    if not isinstance(value, str) or value.strip() in ('', '.', '..') or value != value.strip():
        raise ValueError
    if any(sep and sep in value for sep in (os.sep, os.altsep, '/', '\\')) or '\0' in value:
        raise ValueError
    return value


NAME = Rule('a plain folder name (no "/", "\\", "..", not empty)', check_run_name)


class Block:
    """A mapping with known keys.

    Args:
        keys (dict[str, Rule | Block]): The keys and their specs.
        required (tuple[str]): Keys that must be present.
        pattern (callable | None): ``key -> spec or None`` for keys that follow a pattern (``val_1``, ``val_2``).
        nullable (bool): ``~`` accepted (means "not set").
    """

    def __init__(self, keys=None, required=(), pattern=None, nullable=False):
        self.keys, self.required, self.pattern, self.nullable = dict(keys or {}), tuple(required), pattern, nullable

    def spec_of(self, key):
        """The spec of ``key``, or None when it is not an option here."""
        spec = self.keys.get(key)
        if spec is None and self.pattern is not None:
            spec = self.pattern(key)
        return spec

    def not_a_mapping(self, value, key_path, errors, expected='a mapping'):
        """Whether ``value`` has no keys to check: ``~`` of a nullable block, or (an error) not a mapping at all."""
        if value is None and self.nullable:
            return True
        if not isinstance(value, dict):
            errors.append(f'{key_path or "the option file"}: must be {expected}, got {describe(value)}')
            return True
        return False

    def validate(self, value, key_path, errors):
        if self.not_a_mapping(value, key_path, errors):
            return value
        prefix = f'{key_path}:' if key_path else ''
        for key in self.required:
            if key not in value:
                errors.append(f'{prefix}{key}: required option is missing')
        for key, item in value.items():
            spec = self.spec_of(str(key))
            if spec is None:
                errors.append(unknown_key_message(f'{prefix}{key}', key, self.keys))
            else:
                value[key] = spec.validate(item, f'{prefix}{key}', errors)
        return value


def unknown_key_message(key_path, key, known, problem='unknown option'):
    """``<path>: unknown option; did you mean "<closest>"?`` (or the list of valid keys when none is close)."""
    close = difflib.get_close_matches(str(key), list(known), n=_CLOSE_MATCHES, cutoff=0.6)
    if close:
        return f'{key_path}: {problem}; did you mean "{close[0]}"?'
    return f'{key_path}: {problem} (valid here: {", ".join(sorted(known)) or "none"})'


class BuiltBlock(Block):
    """A pass-through block that basicsr turns into an object of the class its ``type`` names: its other keys are
    the keyword arguments of that class (checked against its signature, so a misspelt one is an error here rather
    than a ``TypeError`` when the object is built).

    Args:
        what (str): What ``type`` names, for messages (``'network architecture'``).
        resolve (callable): ``type -> class`` or None when there is no such type; ``candidates()`` lists the types.
        candidates (callable): ``() -> iterable of valid type names``.
        given (tuple[str]): Positional arguments the caller supplies (``params`` of an optimizer).
    """

    def __init__(self, what, resolve, candidates, given=(), nullable=False):
        super().__init__({'type': TEXT}, required=('type',), nullable=nullable)
        self.what, self.resolve, self.candidates, self.given = what, resolve, candidates, set(given)

    def validate(self, value, key_path, errors):
        if self.not_a_mapping(value, key_path, errors, 'a mapping with a "type"'):
            return value
        if 'type' not in value or not isinstance(value['type'], str):
            errors.append(f'{key_path}:type: required: the {self.what} (a string), got '
                          f'{describe(value.get("type"))}')
            return value
        cls = self.resolve(value['type'])
        if cls is None:
            close = difflib.get_close_matches(value['type'], list(self.candidates()), n=1, cutoff=0.6)
            errors.append(f'{key_path}:type: no {self.what} named "{value["type"]}"'
                          + (f'; did you mean "{close[0]}"?' if close else ''))
            return value
        parameters = inspect.signature(cls).parameters
        if any(p.kind == p.VAR_KEYWORD for p in parameters.values()):
            return value
        names = [name for name in parameters if name not in self.given]
        for key in value:
            if key != 'type' and key not in names:
                errors.append(unknown_key_message(f'{key_path}:{key}', key, names,
                                                  f'not an argument of {value["type"]}'))
        for name, parameter in parameters.items():
            if (name not in self.given and parameter.default is parameter.empty and name not in value
                    and parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)):
                errors.append(f'{key_path}:{name}: required by {value["type"]}, missing')
        return value


def _registry_block(registry_name, what, nullable=False):
    """A block built from a basicsr registry (``ARCH_REGISTRY``, ``LOSS_REGISTRY``), whose ``get`` also finds
    ``<type>_basicsr`` as basicsr does."""
    def registry():
        from basicsr.utils import registry as registries
        return getattr(registries, registry_name)

    def resolve(name):
        obj_map = registry()._obj_map
        return obj_map.get(name, obj_map.get(f'{name}_basicsr'))

    def candidates():
        return [name[:-len('_basicsr')] if name.endswith('_basicsr') else name for name in registry()._obj_map]
    return BuiltBlock(what, resolve, candidates, nullable=nullable)


def _optimizer_block():
    def resolve(name):
        cls = getattr(torch.optim, name, None)
        return cls if isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer) else None

    def candidates():
        return [name for name in dir(torch.optim) if resolve(name) is not None]
    return BuiltBlock('torch.optim optimizer', resolve, candidates, given=('params',))


def _scheduler_block():
    names = ('MultiStepRestartLR', 'CosineAnnealingRestartLR')  # what basicsr's setup_schedulers builds

    def resolve(name):
        from basicsr.models import lr_scheduler
        aliases = {'MultiStepLR': 'MultiStepRestartLR'}
        return getattr(lr_scheduler, aliases.get(name, name)) if aliases.get(name, name) in names else None
    return BuiltBlock('learning-rate scheduler', resolve, lambda: ('MultiStepLR', *names), given=('optimizer',))


NETWORK = _registry_block('ARCH_REGISTRY', 'network architecture')
LOSS = _registry_block('LOSS_REGISTRY', 'loss', nullable=True)
#: Blocks that are open to their components' own keys (basicsr's ``dist_params``, ``io_backend``).
OPEN = Rule('a mapping', _is((dict,)), nullable=True)

DETECTOR = Block({
    'window_size': Rule('a positive odd integer', _odd_integer),
    'sigma': number(0, low_open=True),
    'c_factor': number(0, low_open=True),
    'eps': number(0),
    'threshold': number(0, 1, low_open=True, high_open=True),
    'erode_kernel': integer(1), 'erode_iterations': integer(0),
    'dilate_kernel': integer(1), 'dilate_iterations': integer(0),
    'fill_holes_kernel': integer(1), 'min_area': integer(0),
    'class_intervals': PATH,
    'segmenter': Block({'type': choice('segformer', 'none'), 'model_path': TEXT,
                        'scale': Rule('two positive integers [long side, short side]', _int_pair),
                        'autocast': choice('auto', 'fp16', 'bf16', False, 'false', 'none', nullable=True)},
                       nullable=True),
}, nullable=True)

TILE = Block({'tile_size': integer(0), 'tile_pad': integer(0), 'pre_pad': integer(0), 'half': BOOL}, nullable=True)
_DATASET_KEYS = {'dataroot_mse': PATH, 'dataroot_gan': PATH, 'dataroot_lq': PATH, 'meta_info_file': PATH,
                 'meta_info_key': OPTIONAL_TEXT}
_COMMON = {'name': NAME, 'num_gpu': Rule('auto or an integer >= 0', lambda v: v if v == 'auto' else _integer(0)(v)),
           'manual_seed': integer(0, nullable=True), 'scale': integer(1), 'dist_params': OPEN,
           'import_modules': Rule('a list of module names (strings)', _string_list, nullable=True)}
#: The overlap of LR-mode work (:func:`desra.batch.pipeline.pipeline_options`).
PIPELINE = Block({'prefetch': integer(0), 'write_queue': integer(0)}, nullable=True)
_RUN_COMMON = {**_COMMON, 'overwrite': BOOL, 'max_image_pixels': integer(1), 'pipeline': PIPELINE}


def _network_paths(*roles, results_root=True):
    keys = {'results_root': PATH} if results_root else {}
    for role in roles:
        keys.update({f'pretrain_network_{role}': PATH, f'param_key_{role}': OPTIONAL_TEXT,
                     f'strict_load_{role}': BOOL})
    return Block(keys, nullable=True)


#: Checkpoint selection from validation (:mod:`desra.training.selection`); every threshold may be ~ (not checked).
SELECT = Block({'retention_min': number(0, nullable=True), 'niqe_gap_max': number(nullable=True),
                'addition_max': number(0, nullable=True), 'removal_min': number(0, 1, nullable=True),
                'texture_reduction_min': number(high=1, nullable=True),
                'metric': choice('removal_rate', 'texture_reduction'), 'patience': integer(0)}, nullable=True)
#: The collapse verdict's thresholds (:func:`desra.metrics.realism.realism_options`).
REALISM = Block({'niqe_margin': number(0), 'min_retention': number(0)}, nullable=True)


def _stage_one(phase, roles, **extra):
    """detect and test: the images, the networks of LR mode, tiles, detector and report (and ``extra`` blocks)."""
    return Block({**_RUN_COMMON, **extra, 'datasets': Block({phase: Block(_DATASET_KEYS)}, required=(phase,)),
                  'reference': choice('auto', 'parent', 'twin', 'generic'),
                  **{f'network_{role}': NETWORK for role in roles}, 'path': _network_paths(*roles), 'tile': TILE,
                  'detector': DETECTOR,
                  'report': Block({'max_parts': integer(0), 'rows_per_page': integer(1)}, nullable=True)},
                 required=('name', 'datasets', 'detector'))


_DATALOADER_KEYS = {'name': TEXT, 'type': TEXT, 'phase': TEXT, 'scale': integer(1), 'io_backend': OPEN,
                    'num_worker_per_gpu': integer(0), 'batch_size_per_gpu': integer(1),
                    'dataset_enlarge_ratio': integer(1), 'prefetch_mode': choice('cpu', 'cuda', nullable=True),
                    'num_prefetch_queue': integer(1), 'pin_memory': BOOL, 'persistent_workers': BOOL,
                    'use_shuffle': BOOL}
_DATASETS_BY_TYPE = {
    'DeSRADataset': {**_DATALOADER_KEYS, 'dataroot_gt': TEXT, 'dataroot_lq': TEXT, 'dataroot_mask': TEXT,
                     'meta_info_file': PATH, 'gt_size': integer(2), 'use_hflip': BOOL, 'use_rot': BOOL,
                     'artifact_crop_prob': number(0, 1)},
    'SingleImageDataset': {**_DATALOADER_KEYS, 'dataroot_lq': TEXT, 'dataroot_mse': PATH, 'meta_info_file': PATH,
                           'mean': ANY, 'std': ANY, 'filename_tmpl': TEXT, 'color': OPTIONAL_TEXT},
}
_DATASETS_BY_TYPE['ListedLRDataset'] = {**_DATASETS_BY_TYPE['SingleImageDataset'], 'meta_info_file': PATH,
                                        'meta_info_key': OPTIONAL_TEXT}


class TrainingDataset(Block):
    """A ``datasets:`` entry of training: the keys of its ``type`` when DeSRA knows them, else open (any basicsr
    dataset, whose own code reads its options)."""

    def __init__(self):
        super().__init__(required=('name', 'type'))

    def validate(self, value, key_path, errors):
        keys = _DATASETS_BY_TYPE.get(value.get('type')) if isinstance(value, dict) else {}
        if keys is None:
            return value
        return Block(keys, required=self.required).validate(value, key_path, errors)


def _number_list(value):
    if not isinstance(value, list) or not all(not isinstance(v, bool) and isinstance(v, (int, float)) for v in value):
        raise ValueError
    return value


NUMBERS = Rule('a list of numbers', _number_list)
#: The degradation options of basicsr's RealESRNetModel (ReferenceTwinModel; Real-ESRGAN's values by default).
_DEGRADATION = {'gt_usm': BOOL, 'queue_size': integer(1), 'high_order_degradation': BOOL,
                **{f'{key}{order}': NUMBERS for key in ('resize_prob', 'resize_range', 'noise_range',
                                                        'poisson_scale_range', 'jpeg_range') for order in ('', '2')},
                **{f'{key}{order}': number(0, 1) for key in ('gaussian_noise_prob', 'gray_noise_prob')
                   for order in ('', '2')},
                'second_blur_prob': number(0, 1)}

TRAIN = Block({
    **_COMMON, **_DEGRADATION, 'model_type': TEXT, 'l1_gt_usm': BOOL, 'percep_gt_usm': BOOL, 'gan_gt_usm': BOOL,
    'find_unused_parameters': BOOL,
    'datasets': Block({'train': TrainingDataset()}, required=('train',),
                      pattern=lambda key: TrainingDataset() if key.split('_')[0] == 'val' else None),
    'network_g': NETWORK, 'network_d': NETWORK, 'network_mse': NETWORK,
    'path': Block({**_network_paths('g', 'd', 'mse', results_root=False).keys, 'resume_state': PATH},
                  nullable=True),
    'train': Block({'ema_decay': number(0, 1, high_open=True), 'amp': choice(False, 'bf16', 'fp16', nullable=True),
                    'channels_last': BOOL, 'optim_g': _optimizer_block(), 'optim_d': _optimizer_block(),
                    'scheduler': _scheduler_block(), 'total_iter': integer(1), 'warmup_iter': integer(-1),
                    'pixel_opt': LOSS, 'masked_pixel_opt': LOSS, 'perceptual_opt': LOSS, 'gan_opt': LOSS,
                    'ldl_opt': LOSS, 'percep_mask_weight': number(0), 'gan_mask_weight': number(0),
                    'net_d_iters': integer(1), 'net_d_init_iters': integer(0),
                    'target_outside': choice('pseudo_gt', 'frozen_generator'),
                    'fixed_params': Rule('a list of regular expressions (strings)', _string_list, nullable=True),
                    'twin_mode': choice('whole', 'tail'),
                    'trained_params': Rule('a list of regular expressions (strings)', _string_list, nullable=True),
                    'tail_fraction': number(0, 1, low_open=True), 'feature_pool': integer(1)},
                   required=('total_iter', 'optim_g', 'scheduler')),
    'val': Block({'val_freq': integer(1), 'save_img': BOOL, 'tile': integer(0), 'tile_pad': integer(0),
                  'detector': DETECTOR, 'realism': REALISM, 'select': SELECT}, nullable=True),
    'logger': Block({'print_freq': integer(1), 'save_checkpoint_freq': integer(1), 'use_tb_logger': BOOL,
                     'save_checkpoint_format': choice('pth', 'safetensors'),
                     'wandb': Block({'project': OPTIONAL_TEXT, 'resume_id': OPTIONAL_TEXT}, nullable=True)},
                    required=('print_freq', 'save_checkpoint_freq')),
}, required=('name', 'model_type', 'datasets', 'network_g', 'train', 'logger'))

#: The options each command reads.
COMMAND_SCHEMAS = {
    'detect': _stage_one('detect', ('mse', 'gan')),
    'test': _stage_one('test', ('mse', 'gan', 'finetuned'), realism=REALISM),
    'build_dataset': Block({
        **_RUN_COMMON,
        'datasets': Block({'build': Block({**_DATASET_KEYS, 'dataroot_mask': PATH})}, required=('build',)),
        'build': Block({'feather_sigma': number(0), 'negative_ratio': number(0, 1), 'min_artifact_pixels': integer(1),
                        'mask_border': integer(0),
                        'crop': Block({'enabled': BOOL, 'gt_size': integer(2), 'max_crops_per_image': integer(1)},
                                      nullable=True)}, nullable=True),
        'path': Block({'results_root': PATH}, nullable=True)}, required=('name', 'datasets')),
    'infer': Block({
        **_RUN_COMMON, 'datasets': Block({'test': Block({'dataroot_lq': TEXT}, required=('dataroot_lq',))},
                                         required=('test',)),
        'network_g': NETWORK, 'path': _network_paths('g'), 'tile': TILE,
        'alpha_upsampler': choice('model', 'linear')}, required=('name', 'datasets', 'network_g')),
    'train': TRAIN,
}


def check_options(opt, command, source):
    """Check ``opt`` (as read and overridden) against ``command``'s schema, normalising integral floats to int.

    Args:
        opt (dict): The options; changed in place only where a value is normalised.
        command (str): A key of :data:`COMMAND_SCHEMAS`, or ``'detector'`` for a ``detector:`` mapping alone.
        source (str): The option file, for the message.

    Raises:
        OptionError: Every problem, one per line, each with its key path.
    """
    schema = DETECTOR if command == 'detector' else COMMAND_SCHEMAS[command]
    errors = []
    schema.validate(opt, '', errors)
    if errors:
        raise OptionError(f'{source}: {len(errors)} option problem(s):\n  ' + '\n  '.join(errors))
    return opt
