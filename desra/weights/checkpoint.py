"""Load network weights from every checkpoint format SR users have, with a readable error when they do not fit.

Formats understood (all loaded with ``weights_only=True``):

* basicsr / Real-ESRGAN / LDL / SwinIR releases: ``{'params_ema': state_dict, 'params': state_dict}`` or either key
  alone (``RealESRGAN_x4plus.pth``, ``RealESRNet_x4plus.pth``, ``RealESRGAN_x4plus_netD.pth``, SwinIR's models);
* a bare state dict (``{'conv_first.weight': tensor, ...}``);
* wrappers ``{'state_dict': ...}`` or ``{'model': ...}`` (mmseg, generic trainers);
* keys prefixed by ``module.`` (saved from DataParallel / DistributedDataParallel);
* ``.safetensors`` files: one flat state dict (as model zoos ship them; ``param_key`` does not apply to them).

Networks are written in Real-ESRGAN's ``.pth`` format or, with ``logger: save_checkpoint_format: safetensors``, as
one flat ``.safetensors`` state dict (:func:`save_network_file`).
"""
import os
import pickle
from collections import OrderedDict

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file as load_safetensors
from safetensors.torch import save_file as save_safetensors

from desra.io.images import atomic_output
from desra.io.paths import not_found
from desra.weights.hub import resolve_weights

#: Keys tried in this order by ``param_key='auto'``: EMA weights first, as Real-ESRGAN's inference does.
AUTO_PARAM_KEYS = ('params_ema', 'params', 'state_dict', 'model')
#: ``param_key`` for basicsr's ``params_ema``: as basicsr's ``load_network`` does, a checkpoint without it (e.g. LDL's
#: releases) gives its ``params``; a bare state dict (model zoos' files) gives itself.
EMA_OR_PLAIN_PARAM_KEYS = ('params_ema', 'params')
#: Formats :func:`save_network_file` writes (``logger: save_checkpoint_format``).
CHECKPOINT_FORMATS = ('pth', 'safetensors')


class CheckpointMismatchError(RuntimeError):
    """A checkpoint does not fit the configured network; the message lists the differing keys and shapes."""


class CorruptCheckpointError(ValueError):
    """A checkpoint or training-state file is empty, truncated or not loadable with ``weights_only=True``."""


def load_checkpoint_file(path):
    """The object a checkpoint file holds, on the CPU, with a one-line error naming the file: a ``.safetensors``
    file's flat state dict, or what a ``.pth`` / ``.state`` holds, loaded with ``weights_only=True``.

    Raises:
        FileNotFoundError: No file at ``path``.
        CorruptCheckpointError: The file is empty or truncated (an interrupted copy or save), or holds Python objects
            other than tensors and plain containers (refused: loading them could run code).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path}: {not_found(path)} (a checkpoint file)')
    try:
        if is_safetensors(path):
            return load_safetensors(path, device='cpu')
        return torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as error:
        if 'Unsupported operand' in str(error):  # bytes that are no pickle at all (text, an image, ...)
            raise CorruptCheckpointError(f'{path}: not a PyTorch (.pth) or safetensors checkpoint '
                                         f'({os.path.getsize(path)} bytes; not a pickle)') from None
        raise CorruptCheckpointError(f'{path}: refused by weights_only loading: it holds Python objects other than '
                                     'tensors and plain containers') from None
    except (RuntimeError, EOFError, ValueError, SafetensorError) as error:
        reason = str(error).split('. ')[0] or 'the file ends too early'
        size = os.path.getsize(path)
        raise CorruptCheckpointError(f'{path}: not a complete checkpoint, the file is empty, truncated or corrupt '
                                     f'({size} bytes; {reason})') from None
    except (KeyError, IndexError, TypeError, AttributeError) as error:  # the unpickler, on bytes that are no pickle
        raise CorruptCheckpointError(f'{path}: not a PyTorch (.pth) or safetensors checkpoint '
                                     f'({os.path.getsize(path)} bytes; {type(error).__name__})') from None


def _is_state_dict(obj):
    return isinstance(obj, dict) and len(obj) > 0 and all(torch.is_tensor(v) for v in obj.values())


def is_safetensors(path):
    """Whether ``path`` names a ``.safetensors`` file (by its extension)."""
    return os.fspath(path).lower().endswith('.safetensors')


def load_state_dict(path, param_key='auto'):
    """Read the state dict stored in a checkpoint file.

    Args:
        path (str): Checkpoint file (``.pth``; ``.safetensors``, always a bare state dict), or a hub id
            ``hf://owner/repo/file`` (:mod:`desra.weights.hub`).
        param_key (str | tuple[str] | None): Key holding the state dict. ``'auto'`` picks the first of
            :data:`AUTO_PARAM_KEYS` present, else the file itself if it is a bare state dict. A tuple of keys picks
            the first of them the file has (e.g. :data:`EMA_OR_PLAIN_PARAM_KEYS`). ``None`` means the file is a bare
            state dict.

    Returns:
        tuple[dict[str, Tensor], str | None]: The state dict (``module.`` prefixes removed, tensors on CPU) and
        the key it came from (None for a bare state dict).

    Raises:
        FileNotFoundError: No file at ``path``.
        CorruptCheckpointError: The file is empty, truncated or corrupt (:func:`load_checkpoint_file`).
        KeyError: The file lacks ``param_key`` (all of them, for a tuple); the message lists the keys it has.
        ValueError: The file holds no state dict.
    """
    path = os.fspath(resolve_weights(path))
    checkpoint = load_checkpoint_file(path)
    if not isinstance(checkpoint, dict):
        raise ValueError(f'{path}: expected a dict (state dict or {{"params": ...}}), '
                         f'found {type(checkpoint).__name__}')
    if param_key == 'auto' or is_safetensors(path):
        param_key = next((key for key in AUTO_PARAM_KEYS if _is_state_dict(checkpoint.get(key))), None)
    if param_key is None:
        state_dict = checkpoint
    else:
        keys = param_key if isinstance(param_key, tuple) else (param_key,)
        param_key = next((key for key in keys if key in checkpoint), None)
        if param_key is None and keys == EMA_OR_PLAIN_PARAM_KEYS and _is_state_dict(checkpoint):
            return _strip_module_prefix(checkpoint), None
        if param_key is None:
            wanted = ' or '.join(f'"{key}"' for key in keys)
            raise KeyError(f'{path}: no key {wanted} in the checkpoint; it has {sorted(checkpoint)[:10]}')
        state_dict = checkpoint[param_key]
    if not _is_state_dict(state_dict):
        raise ValueError(f'{path}: no state dict found (top-level keys: {sorted(checkpoint)[:10]})')
    return _strip_module_prefix(state_dict), param_key


def _strip_module_prefix(state_dict):
    """``state_dict`` without the ``module.`` prefixes DataParallel / DistributedDataParallel add."""
    return {(k[len('module.'):] if k.startswith('module.') else k): v for k, v in state_dict.items()}


def describe_mismatch(net_state, loaded_state, limit=20):
    """List how two state dicts differ: missing keys, unexpected keys and shape differences.

    Returns:
        str: Empty when they fit exactly, else a multi-line report (each list cut at ``limit`` entries).
    """

    def block(title, items):
        shown = '\n'.join(f'    {item}' for item in items[:limit])
        more = f'\n    ... and {len(items) - limit} more' if len(items) > limit else ''
        return f'  {title} ({len(items)}):\n{shown}{more}'

    missing = sorted(set(net_state) - set(loaded_state))
    unexpected = sorted(set(loaded_state) - set(net_state))
    shapes = sorted(f'{k}: network {tuple(net_state[k].shape)}, checkpoint {tuple(loaded_state[k].shape)}'
                    for k in set(net_state) & set(loaded_state) if net_state[k].shape != loaded_state[k].shape)
    sections = (('missing in checkpoint', missing), ('unexpected in checkpoint', unexpected), ('shape differs', shapes))
    parts = [block(title, items) for title, items in sections if items]
    return '\n'.join(parts)


def load_network_weights(net, path, param_key='auto', strict=True):
    """Load a checkpoint into ``net`` (a bare ``nn.Module``, not DDP-wrapped).

    Args:
        net (nn.Module): The configured network.
        path (str): Checkpoint file.
        param_key (str | tuple[str] | None): See :func:`load_state_dict`.
        strict (bool): If False, keys missing from the checkpoint keep their current values and unexpected keys are
            ignored; differing shapes are an error either way.

    Returns:
        str | None: The key the weights came from.

    Raises:
        CheckpointMismatchError: The checkpoint does not fit ``net``; lists missing/unexpected keys and shapes.
    """
    state_dict, used_key = load_state_dict(path, param_key)
    net_state = net.state_dict()
    report = describe_mismatch(net_state, state_dict)
    has_shape_error = any(k in net_state and net_state[k].shape != v.shape for k, v in state_dict.items())
    if report and (strict or has_shape_error):
        raise CheckpointMismatchError(f'{path} (key "{used_key}") does not fit {type(net).__name__}:\n{report}')
    net.load_state_dict(state_dict, strict=strict)
    return used_key


def cpu_state_dict(net):
    """``net.state_dict()`` with every tensor detached, on the CPU and in the standard (contiguous) layout."""
    return OrderedDict((key, value.detach().cpu().contiguous()) for key, value in net.state_dict().items())


def save_checkpoint_file(obj, path):
    """``torch.save(obj, path)`` atomically: an interrupted write leaves no file under ``path``.

    ``obj`` should hold only containers, numbers, strings and tensors, so that it loads with ``weights_only=True``.
    """
    with atomic_output(path) as tmp_path:
        torch.save(obj, tmp_path)


def save_network_file(state_dicts, path_stem, save_format='pth'):
    """Write network weights atomically, as ``<path_stem>.pth`` or ``<path_stem>.safetensors``.

    Args:
        state_dicts (dict[str, dict[str, Tensor]]): Weights by key, e.g. ``{'params': ..., 'params_ema': ...}``.
        path_stem (str): The file's path without extension.
        save_format (str): ``'pth'``: Real-ESRGAN's format, ``{key: state_dict, ...}``. ``'safetensors'``: the
            first state dict in :data:`AUTO_PARAM_KEYS` order (``params_ema`` when present: the weights Real-ESRGAN's
            inference uses) as a flat state dict, with its key in the metadata (``param_key``).

    Returns:
        str: The path written.
    """
    if save_format not in CHECKPOINT_FORMATS:
        raise ValueError(f'checkpoint format must be one of {", ".join(CHECKPOINT_FORMATS)}, got {save_format!r}')
    path = f'{path_stem}.{save_format}'
    if save_format == 'pth':
        save_checkpoint_file(state_dicts, path)
        return path
    key = next((key for key in AUTO_PARAM_KEYS if key in state_dicts), next(iter(state_dicts)))
    tensors = {name: tensor.detach().cpu().contiguous().clone() for name, tensor in state_dicts[key].items()}
    with atomic_output(path) as tmp_path:
        save_safetensors(tensors, tmp_path, metadata={'param_key': key})
    return path


def same_weights(first, second):
    """Whether two networks hold equal tensors (parameters and buffers) under the same names."""
    first_state, second_state = first.state_dict(), second.state_dict()
    return first_state.keys() == second_state.keys() and all(
        torch.equal(tensor, second_state[name]) for name, tensor in first_state.items())
