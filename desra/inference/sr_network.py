"""Build an SR network from its option dict (a basicsr mapping, or ``type: auto``) and its weights, for inference,
and say what shapes its results (:func:`network_made_with`, recorded beside them)."""
import os

import torch
from basicsr.archs import build_network

from desra.archs.auto_arch import AUTO_TYPE, check_scale
from desra.inference.tiled_upsampler import TiledUpsampler
from desra.io.paths import not_found
from desra.io.records import content_identity, json_form
from desra.weights.checkpoint import load_network_weights
from desra.weights.hub import is_hub_id, resolve_weights


def build_sr_network(network_opt, weights_path=None, param_key='auto', device='cpu'):
    """Create the network a YAML ``network_*`` mapping describes and load a checkpoint into it.

    Args:
        network_opt (dict): basicsr network options, e.g. ``{'type': 'RRDBNet', 'num_in_ch': 3, 'num_out_ch': 3,
            'num_feat': 64, 'num_block': 23, 'num_grow_ch': 32, 'scale': 4}``, or ``{'type': 'auto'}``: the
            architecture spandrel detects in ``weights_path`` (:mod:`desra.archs.auto_arch`).
        weights_path (str | None): Checkpoint file (any format :mod:`desra.weights.checkpoint` reads); None keeps the
            random initialisation of a basicsr mapping (tests, training from scratch).
        param_key (str | None): Key of the weights inside the checkpoint; ``'auto'`` prefers ``params_ema``.
        device (str | torch.device): Where the network lives.

    Returns:
        nn.Module: The network in eval mode on ``device``.
    """
    network_opt = dict(network_opt)
    if network_opt.get('type') == AUTO_TYPE:
        network_opt.setdefault('model_path', weights_path)
        network_opt.setdefault('param_key', param_key)
        net = build_network(network_opt)
    else:
        net = build_network(network_opt)
        if weights_path is not None:
            load_network_weights(net, weights_path, param_key=param_key)
    return net.to(torch.device(device)).eval()


def build_upsampler(opt, name, device, tile_opt=None):
    """Build the :class:`TiledUpsampler` for network ``name`` of a command's options.

    Reads basicsr-style keys: ``network_<name>`` (the architecture; ``{type: auto}`` reads it from the
    checkpoint), ``path.pretrain_network_<name>`` (the checkpoint, required), ``path.param_key_<name>`` (default
    ``auto``), ``scale`` (for ``type: auto``, checked against the detected scale) and ``tile: {tile_size, tile_pad,
    pre_pad, half}``.

    Args:
        opt (dict): The command's options.
        name (str): The network's role (``'g'``, ``'mse'``, ...).
        device (str | torch.device): Where the network runs.
        tile_opt (dict | None): Tile settings (the keys of ``tile``) used instead of ``opt['tile']``.

    Raises:
        KeyError: The options lack ``network_<name>`` or its checkpoint path (the message names the key); the path
            may be a hub id ``hf://owner/repo/file`` (:mod:`desra.weights.hub`).
        FileNotFoundError: The checkpoint file is missing (the message names it and the key).
        ValueError: ``type: auto`` and a checkpoint spandrel cannot use, or whose scale differs from ``scale``.
    """
    network_key, path_key = f'network_{name}', f'pretrain_network_{name}'
    if network_key not in opt:
        raise KeyError(f'option "{network_key}" (the {name} network architecture) is missing')
    weights_path = opt.get('path', {}).get(path_key)
    if not weights_path:
        raise KeyError(f'option "path:{path_key}" (the {name} network weights) is missing')
    weights_path = resolve_weights(weights_path)
    if not os.path.isfile(weights_path):
        raise FileNotFoundError(f'{weights_path}: {not_found(weights_path)} (path:{path_key}); see '
                                'experiments/pretrained_models/README.md for where to get the weights')
    net = build_sr_network(opt[network_key], weights_path, opt['path'].get(f'param_key_{name}', 'auto'), device)
    check_scale(net, opt.get('scale'), name)
    detected = getattr(net, 'detected_arch', None)
    scale = detected.scale if detected is not None else opt.get('scale', opt[network_key].get('scale', 4))
    tile = (opt.get('tile') if tile_opt is None else tile_opt) or {}
    return TiledUpsampler(net, scale, tile=tile.get('tile_size', 0),
                          tile_pad=tile.get('tile_pad', 10), pre_pad=tile.get('pre_pad', 0),
                          half=tile.get('half', False), device=device)


def network_made_with(opt, role, half):
    """What shapes the SR results of ``network_<role>`` (as JSON reads it back): its network options, checkpoint
    (path and :func:`~desra.io.records.content_identity`; a Hugging Face hub id is resolved to its cached file),
    param key, scale and tile settings (``tile``), with ``half`` the precision the network really runs in
    (:attr:`TiledUpsampler.half`: fp16 is asked for in ``tile: half`` but runs only on CUDA)."""
    paths = opt.get('path') or {}
    weights = paths.get(f'pretrain_network_{role}')
    local = resolve_weights(weights) if weights and is_hub_id(weights) else weights
    tile = dict(opt.get('tile') or {}, half=bool(half))
    return json_form({'network': opt.get(f'network_{role}'), 'weights': [weights, content_identity(local)],
                      'param_key': paths.get(f'param_key_{role}', 'auto'), 'scale': opt.get('scale'),
                      'tile': tile})
