"""``type: auto``: the SR architecture a checkpoint holds, detected by spandrel, as a trainable basicsr network.

``network_<role>: {type: auto}`` takes the architecture, its hyper-parameters, the scale and the input-size
requirements from the checkpoint ``path: pretrain_network_<role>`` (``.pth`` or ``.safetensors``, read by
:func:`desra.weights.checkpoint.load_state_dict` with ``path: param_key_<role>``), through spandrel, which knows 30+
architectures: ESRGAN / RRDBNet and its variants, Real-ESRGAN Compact (SRVGGNetCompact), SwinIR, HAT, DAT, SPAN,
OmniSR, PLKSR, ... The network built is spandrel's own ``nn.Module`` for that architecture with the checkpoint's
weights, in training mode, so it trains like any basicsr network (``DeSRAModel`` builds it with basicsr's
``build_network``).

Spandrel may name or shape tensors differently from the checkpoint (its ESRGAN uses the old ``model.1.sub.0.RDB1``
names for basicsr's ``body.0.rdb1``). The network carries a :class:`DetectedArch` (attribute ``detected_arch``)
whose :class:`CheckpointKeys` map its state dict back to the checkpoint's own names, so that a fine-tuned checkpoint
loads wherever the original loads: spandrel, and the original ecosystem (basicsr's ``RRDBNet`` with
``strict=True``, Real-ESRGAN's inference).
"""
from collections import OrderedDict
from dataclasses import dataclass

import torch
from basicsr.utils.registry import ARCH_REGISTRY
from spandrel import ImageModelDescriptor, ModelLoader, SizeRequirements, UnsupportedModelError, canonicalize_state_dict

from desra.weights.checkpoint import (EMA_OR_PLAIN_PARAM_KEYS, CheckpointMismatchError, cpu_state_dict,
                                      describe_mismatch, load_state_dict)

#: The ``type`` of a network whose architecture is read from its checkpoint.
AUTO_TYPE = 'auto'
#: spandrel's purposes of the models that super-resolve (or restore at scale 1) whole RGB images.
IMAGE_PURPOSES = ('SR', 'Restoration')


class CheckpointKeys:
    """The map between a spandrel network's state dict and the tensor names and shapes of its checkpoint.

    Built by :meth:`probe`. Args:
        file_shapes (OrderedDict[str, torch.Size]): The checkpoint's tensors, in its order.
        file_key_of (dict[str, str]): Network key -> checkpoint key, for the network tensors loaded from it.
        kept (dict[str, Tensor]): Checkpoint tensors the network holds no copy of, written back unchanged.
        unmapped_params (list[str]): Network parameters that come from no checkpoint tensor.
    """

    def __init__(self, file_shapes, file_key_of, kept, unmapped_params):
        self.file_shapes = file_shapes
        self.file_key_of = file_key_of
        self.network_key_of = {}
        for network_key, file_key in file_key_of.items():
            self.network_key_of.setdefault(file_key, network_key)
        self.kept = kept
        self.unmapped_params = unmapped_params

    @classmethod
    def probe(cls, architecture, state_dict, net):
        """Find where each checkpoint tensor lands in ``net`` (built by ``architecture`` from ``state_dict``).

        spandrel's loaders choose, rename and reshape tensors by their names and shapes, never by their values, so
        loading the same names and shapes with floating tensor ``i`` filled with the value ``i + 1`` tells which
        checkpoint tensor each network tensor came from. Integer tensors (index buffers) keep their values and map
        by name.
        """
        file_keys = list(state_dict)
        probe = OrderedDict((key, torch.full(value.shape, float(index + 1)) if value.is_floating_point() else value)
                            for index, (key, value) in enumerate(state_dict.items()))
        probed = architecture.load(probe).model.state_dict()
        file_key_of = {}
        for key, value in probed.items():
            if value.is_floating_point() and value.numel() > 0:
                index = int(value.flatten()[0].item()) - 1
                if (0 <= index < len(file_keys) and bool((value == index + 1).all())
                        and value.numel() == state_dict[file_keys[index]].numel()):
                    file_key_of[key] = file_keys[index]
            elif key in state_dict and state_dict[key].shape == value.shape:
                file_key_of[key] = key
        used = set(file_key_of.values())
        kept = {key: value for key, value in state_dict.items() if key not in used}
        unmapped = [name for name, _ in net.named_parameters() if name not in file_key_of]
        return cls(OrderedDict((key, value.shape) for key, value in state_dict.items()), file_key_of, kept, unmapped)

    def to_checkpoint(self, network_state):
        """The network's state dict under the checkpoint's names and shapes, in the checkpoint's order.

        Raises:
            ValueError: Some network parameters come from no checkpoint tensor (they would be lost).
        """
        if self.unmapped_params:
            raise ValueError(f'parameters {self.unmapped_params[:5]} of this spandrel network have no tensor in the '
                             'checkpoint it was loaded from, so they cannot be saved under its names')
        return OrderedDict((key, network_state[self.network_key_of[key]].reshape(shape)
                            if key in self.network_key_of else self.kept[key])
                           for key, shape in self.file_shapes.items())

    def to_network(self, file_state, network_state, strict=True, source='checkpoint'):
        """A state dict for the network from a checkpoint with the original names (the inverse of
        :meth:`to_checkpoint`); network tensors the checkpoint lacks keep their value in ``network_state``.

        Raises:
            CheckpointMismatchError: ``file_state`` does not have the original's tensors and shapes (missing or
                unexpected ones only with ``strict``).
        """
        expected = {key: torch.empty(shape, device='meta') for key, shape in self.file_shapes.items()}
        report = describe_mismatch(expected, file_state)
        wrong_shape = any(key in expected and expected[key].shape != value.shape for key, value in file_state.items())
        if report and (strict or wrong_shape):
            raise CheckpointMismatchError(f'{source} does not fit the detected network:\n{report}')
        return OrderedDict((key, file_state[self.file_key_of[key]].reshape(value.shape)
                            if self.file_key_of.get(key) in file_state else value)
                           for key, value in network_state.items())


@dataclass(frozen=True)
class DetectedArch:
    """What spandrel found in a checkpoint, kept on the network it built (attribute ``detected_arch``).

    Attributes:
        name (str): spandrel's architecture id (``'ESRGAN'``, ``'Compact'``, ``'SwinIR'``, ...).
        scale (int): Upscaling factor.
        size_requirements (SizeRequirements): Input sizes the network accepts (``minimum``, ``multiple_of``,
            ``square``), in input pixels.
        supports_half (bool): Whether it runs in fp16.
        checkpoint_keys (CheckpointKeys): Its state dict <-> the checkpoint's names.
        source (str): The checkpoint file.
    """
    name: str
    scale: int
    size_requirements: SizeRequirements
    supports_half: bool
    checkpoint_keys: CheckpointKeys
    source: str


def detect_network(path, param_key='auto'):
    """Build the network a checkpoint holds, with its weights, through spandrel.

    Args:
        path (str): Checkpoint file (``.pth``, ``.safetensors``; any layout :func:`load_state_dict` reads).
        param_key (str | tuple[str] | None): Key of the weights (``'auto'``: ``params_ema``, else ``params``, ...);
            ``'params_ema'`` falls back to ``params`` as basicsr's ``load_network`` does.

    Returns:
        nn.Module: spandrel's network in training mode (as basicsr's ``build_network`` returns one), with
        ``detected_arch`` (:class:`DetectedArch`).

    Raises:
        ValueError: spandrel does not know the architecture or cannot build it from the weights, or the model is
            not an RGB image-to-image model.
    """
    if param_key == 'params_ema':
        param_key = EMA_OR_PLAIN_PARAM_KEYS
    state_dict = canonicalize_state_dict(load_state_dict(path, param_key)[0])
    try:
        descriptor = ModelLoader().load_from_state_dict(dict(state_dict))
    except UnsupportedModelError:
        raise ValueError(f'{path}: spandrel does not recognise the architecture of this checkpoint; describe it with '
                         'a basicsr network mapping (type: RRDBNet, ...) instead of type: auto') from None
    except (RuntimeError, KeyError, ValueError, TypeError, IndexError, AttributeError) as error:
        # recognised, but its tensors do not fit the architecture spandrel inferred (a size mismatch, a missing key)
        lines = [line.strip() for line in str(error).splitlines() if line.strip()] or [type(error).__name__]
        reason = ' '.join(lines[:2])[:240]  # e.g. "Error(s) in loading state_dict for RRDBNet: size mismatch ..."
        raise ValueError(f'{path}: spandrel recognised the architecture but could not build it from these weights '
                         f'({reason}); describe it with a basicsr network mapping (type: ..., with its sizes) '
                         'instead of type: auto') from None
    if not isinstance(descriptor, ImageModelDescriptor) or descriptor.purpose not in IMAGE_PURPOSES:
        raise ValueError(f'{path}: a {descriptor.architecture.name} {descriptor.purpose} model, not a '
                         'super-resolution model')
    if descriptor.input_channels != 3 or descriptor.output_channels != 3:
        raise ValueError(f'{path}: the {descriptor.architecture.name} model maps {descriptor.input_channels} to '
                         f'{descriptor.output_channels} channels; DeSRA runs RGB (3 to 3) models')
    net = descriptor.model.train()
    net.detected_arch = DetectedArch(
        descriptor.architecture.id, descriptor.scale, descriptor.size_requirements, descriptor.supports_half,
        CheckpointKeys.probe(descriptor.architecture, state_dict, net), str(path))
    return net


@ARCH_REGISTRY.register()
def auto(model_path=None, param_key='auto', **architecture):
    """basicsr's ``type: auto``: the network in ``model_path`` (:func:`detect_network`).

    In options, ``model_path`` and ``param_key`` come from ``path: pretrain_network_<role>`` and
    ``param_key_<role>`` (:func:`resolve_network_opt`).

    Raises:
        ValueError: Architecture keys given (the checkpoint decides them), no checkpoint named, or one spandrel
            cannot use (the message names it).
    """
    if architecture:
        raise ValueError(f'network type auto reads the architecture from its checkpoint: remove '
                         f'{", ".join(sorted(architecture))} from the network options')
    if not model_path:
        raise ValueError('network type auto reads its architecture from a checkpoint: set path:pretrain_network_<role>')
    return detect_network(model_path, param_key)


def resolve_network_opt(opt, role):
    """The basicsr options of network ``role``: ``network_<role>``, where ``type: auto`` gets its checkpoint
    (``path: pretrain_network_<role>``, ``param_key_<role>``, default ``auto``) as ``model_path`` / ``param_key``.

    Returns:
        dict: A new mapping (``opt`` is not changed).
    """
    network_opt = dict(opt[f'network_{role}'])
    if network_opt.get('type') == AUTO_TYPE:
        paths = opt.get('path') or {}
        network_opt.setdefault('model_path', paths.get(f'pretrain_network_{role}'))
        network_opt.setdefault('param_key', paths.get(f'param_key_{role}', 'auto'))
    return network_opt


def check_scale(net, scale, role):
    """Refuse an option ``scale`` that differs from the scale detected in ``net``'s checkpoint (no-op for networks
    built from a basicsr mapping, or without ``scale``).

    Raises:
        ValueError: The two differ; the message names the checkpoint, both scales and the network's role.
    """
    detected = getattr(net, 'detected_arch', None)
    if detected is not None and scale is not None and int(scale) != detected.scale:
        raise ValueError(f'{detected.source}: network_{role} is a x{detected.scale} {detected.name} model but the '
                         f'option "scale" is {scale}')


def load_detected_weights(net, path, param_key='auto', strict=True):
    """Load a checkpoint with the original's names (the one ``net`` was detected from, or a fine-tuned copy) into
    ``net``, a network built by :func:`detect_network`.

    Returns:
        str | None: The key the weights came from.

    Raises:
        CheckpointMismatchError: The checkpoint's tensors differ from the original's (lists keys and shapes).
    """
    state_dict, used_key = load_state_dict(path, param_key)
    keys = net.detected_arch.checkpoint_keys
    net.load_state_dict(keys.to_network(canonicalize_state_dict(state_dict), net.state_dict(), strict,
                                        f'{path} (key "{used_key}")'))
    return used_key


def checkpoint_state_dict(net):
    """``net``'s weights on the CPU as a checkpoint names them: a detected network's under its checkpoint's names
    (:meth:`CheckpointKeys.to_checkpoint`), any other's as its ``state_dict``."""
    state = cpu_state_dict(net)
    detected = getattr(net, 'detected_arch', None)
    return state if detected is None else detected.checkpoint_keys.to_checkpoint(state)
