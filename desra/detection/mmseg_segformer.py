"""The SegFormer checkpoint of the DeSRA release (mmsegmentation 0.x) on top of transformers' encoder.

DeSRA segments GAN-SR images with mmseg's ``segformer_mit-b5_640x640_160k_ade20k`` model
(``segformer_mit-b5_640x640_160k_ade20k_20220617_203542-940a6bd8.pth``). Its encoder, mmseg's
``MixVisionTransformer``, is transformers' ``SegformerModel`` under other parameter names; its decoder, mmseg's
``SegformerHead``, is *not* transformers' ``SegformerDecodeHead``: mmseg projects every stage with a 1x1
conv + BatchNorm + ReLU (transformers: a bare linear layer) and concatenates the stages in the order 1..4
(transformers: 4..1). :class:`MMSegSegformer` therefore pairs ``SegformerModel`` with :class:`MMSegSegformerHead`,
a re-implementation of mmseg's head under mmseg's own parameter names.

Encoder parameters, mmseg ``backbone.layers.{i}.`` -> transformers 5 ``segformer.stages.{i}.`` ({i} stage, {j} block):

* ``0.projection``, ``0.norm`` -> ``patch_embeddings.proj``, ``patch_embeddings.layer_norm``;
* ``1.{j}.norm1``, ``1.{j}.norm2`` -> ``blocks.{j}.layernorm_before``, ``blocks.{j}.layernorm_after``;
* ``1.{j}.attn.attn.in_proj_{weight,bias}`` (``nn.MultiheadAttention``'s packed rows q; k; v) ->
  ``blocks.{j}.attention.{q,k,v}_proj.{weight,bias}``; ``1.{j}.attn.attn.out_proj`` -> ``blocks.{j}.attention.o_proj``;
* ``1.{j}.attn.sr``, ``1.{j}.attn.norm`` -> ``blocks.{j}.attention.sequence_reduction.{sequence_reduction,layer_norm}``;
* ``1.{j}.ffn.layers.0``, ``1.{j}.ffn.layers.4`` (1x1 convs) -> ``blocks.{j}.mlp.fc1``, ``blocks.{j}.mlp.fc2``
  (linear layers: weight ``[:, :, 0, 0]``); ``1.{j}.ffn.layers.1`` (3x3 depthwise) -> ``blocks.{j}.mlp.dwconv.dwconv``;
* ``2`` -> ``layer_norm``.

Head parameters keep their mmseg names (``decode_head.convs.{i}``, ``decode_head.fusion_conv``,
``decode_head.conv_seg``).

mmseg builds every LayerNorm of the encoder with ``eps=1e-6``, transformers with PyTorch's default 1e-5: the model
sets 1e-6 throughout. The architecture is read from the weights' shapes (any MiT size, B0 to B5): hidden sizes,
depths, patch sizes, reduction ratios, MLP ratios, decoder channels and classes; the head counts follow MiT's rule
``num_heads[i] = hidden_sizes[i] / hidden_sizes[0]`` (B5: 64, 128, 320, 512 -> 1, 2, 5, 8) and the strides are
MiT's 4, 2, 2, 2.
"""
import re

import torch
import torch.nn as nn
import torch.nn.functional as F
from transformers import SegformerConfig, SegformerModel

from desra.weights.checkpoint import CheckpointMismatchError, describe_mismatch, load_state_dict

#: LayerNorm epsilon of mmseg's MixVisionTransformer.
MMSEG_LAYER_NORM_EPS = 1e-6
#: Patch-embedding strides of every MiT model.
MIT_STRIDES = (4, 2, 2, 2)

# (mmseg prefix, transformers prefix, is_1x1_conv): encoder parameters renamed one to one; {i} stage, {j} block.
_ENCODER_RENAMES = (
    ('backbone.layers.{i}.0.projection.', 'segformer.stages.{i}.patch_embeddings.proj.', False),
    ('backbone.layers.{i}.0.norm.', 'segformer.stages.{i}.patch_embeddings.layer_norm.', False),
    ('backbone.layers.{i}.1.{j}.norm1.', 'segformer.stages.{i}.blocks.{j}.layernorm_before.', False),
    ('backbone.layers.{i}.1.{j}.attn.attn.out_proj.', 'segformer.stages.{i}.blocks.{j}.attention.o_proj.', False),
    ('backbone.layers.{i}.1.{j}.attn.sr.',
     'segformer.stages.{i}.blocks.{j}.attention.sequence_reduction.sequence_reduction.', False),
    ('backbone.layers.{i}.1.{j}.attn.norm.',
     'segformer.stages.{i}.blocks.{j}.attention.sequence_reduction.layer_norm.', False),
    ('backbone.layers.{i}.1.{j}.norm2.', 'segformer.stages.{i}.blocks.{j}.layernorm_after.', False),
    ('backbone.layers.{i}.1.{j}.ffn.layers.0.', 'segformer.stages.{i}.blocks.{j}.mlp.fc1.', True),
    ('backbone.layers.{i}.1.{j}.ffn.layers.1.', 'segformer.stages.{i}.blocks.{j}.mlp.dwconv.dwconv.', False),
    ('backbone.layers.{i}.1.{j}.ffn.layers.4.', 'segformer.stages.{i}.blocks.{j}.mlp.fc2.', True),
    ('backbone.layers.{i}.2.', 'segformer.stages.{i}.layer_norm.', False),
)
# nn.MultiheadAttention packs the query, key and value projections as the rows of one matrix.
_PACKED_QKV = 'backbone.layers.{i}.1.{j}.attn.attn.in_proj_'
_SPLIT_QKV = tuple(f'segformer.stages.{{i}}.blocks.{{j}}.attention.{name}_proj.' for name in 'qkv')
_HEAD_PREFIX = 'decode_head.'


def _prefix_pattern(template):
    """``'a.{i}.b.'`` -> regex matching ``a.<digits>.b.`` at the start, with groups ``i`` (and ``j``)."""
    pattern = re.escape(template).replace(r'\{i\}', r'(?P<i>\d+)').replace(r'\{j\}', r'(?P<j>\d+)')
    return re.compile(pattern)


_TO_HF = [(_prefix_pattern(src), dst, is_conv) for src, dst, is_conv in _ENCODER_RENAMES]
_TO_MMSEG = [(_prefix_pattern(dst), src, is_conv) for src, dst, is_conv in _ENCODER_RENAMES]
_PACKED_QKV_PATTERN = _prefix_pattern(_PACKED_QKV)
_SPLIT_Q_PATTERN = _prefix_pattern(_SPLIT_QKV[0])


def _rename(key, rules):
    """Apply the first matching (pattern, template, is_conv) rule: (new key, is_conv), or (None, False)."""
    for pattern, template, is_conv in rules:
        match = pattern.match(key)
        if match:
            return template.format(**match.groupdict()) + key[match.end():], is_conv
    return None, False


def mmseg_to_hf_state_dict(state_dict):
    """Rename an mmseg SegFormer state dict for :class:`MMSegSegformer`.

    Args:
        state_dict (dict[str, Tensor]): mmseg keys (``backbone.*``, ``decode_head.*``).

    Returns:
        dict[str, Tensor]: Keys of :class:`MMSegSegformer` (``segformer.*`` transformers names, ``decode_head.*``).

    Raises:
        ValueError: Keys that belong to neither the MiT backbone nor the SegformerHead (listed).
    """
    converted, unknown = {}, []
    for key, value in state_dict.items():
        packed = _PACKED_QKV_PATTERN.match(key)
        if packed:
            suffix = key[packed.end():]  # 'weight' or 'bias'
            for template, part in zip(_SPLIT_QKV, value.chunk(3, dim=0)):
                converted[template.format(**packed.groupdict()) + suffix] = part
            continue
        if key.startswith(_HEAD_PREFIX):
            converted[key] = value
            continue
        new_key, is_conv = _rename(key, _TO_HF)
        if new_key is None:
            unknown.append(key)
        else:
            converted[new_key] = value[:, :, 0, 0] if is_conv and value.ndim == 4 else value
    if unknown:
        raise ValueError(f'not an mmseg SegFormer (MiT + SegformerHead) state dict: {len(unknown)} unknown keys, '
                         f'e.g. {unknown[:5]}')
    return converted


def hf_to_mmseg_state_dict(state_dict):
    """Inverse of :func:`mmseg_to_hf_state_dict`: :class:`MMSegSegformer` keys -> mmseg checkpoint keys."""
    converted = {}
    for key, value in state_dict.items():
        if key.startswith(_HEAD_PREFIX):
            converted[key] = value
            continue
        split = _SPLIT_Q_PATTERN.match(key)
        if split:
            suffix = key[split.end():]
            parts = [state_dict[template.format(**split.groupdict()) + suffix] for template in _SPLIT_QKV]
            converted[_PACKED_QKV.format(**split.groupdict()) + suffix] = torch.cat(parts)
            continue
        if '.attention.k_proj.' in key or '.attention.v_proj.' in key:
            continue  # packed with the query above
        new_key, is_conv = _rename(key, _TO_MMSEG)
        if new_key is None:
            raise ValueError(f'{key}: not a parameter of MMSegSegformer')
        converted[new_key] = value[:, :, None, None] if is_conv and value.ndim == 2 else value
    return converted


def mmseg_segformer_config(state_dict):
    """The architecture of an mmseg SegFormer state dict, read from its shapes.

    Returns:
        tuple[SegformerConfig, int]: The encoder configuration (with ``num_labels``) and the decoder's channels.
    """
    projection_key = re.compile(r'backbone\.layers\.(\d+)\.0\.projection\.weight$')
    stages = sorted(int(match.group(1)) for match in map(projection_key.match, state_dict) if match)
    if not stages or 'decode_head.conv_seg.weight' not in state_dict:
        raise ValueError('not an mmseg SegFormer state dict: no backbone.layers.*.0.projection.weight or '
                         'decode_head.conv_seg.weight')
    layers = [f'backbone.layers.{i}.' for i in stages]
    projections = [state_dict[f'{layer}0.projection.weight'] for layer in layers]
    hidden_sizes = [p.shape[0] for p in projections]
    depths = [len({k.split('.')[4] for k in state_dict if k.startswith(f'{layer}1.') and k.endswith('.norm1.weight')})
              for layer in layers]
    sr_ratios = [state_dict[f'{layer}1.0.attn.sr.weight'].shape[-1] if f'{layer}1.0.attn.sr.weight' in state_dict
                 else 1 for layer in layers]
    mlp_ratios = [state_dict[f'{layer}1.0.ffn.layers.0.weight'].shape[0] // size
                  for layer, size in zip(layers, hidden_sizes)]
    config = SegformerConfig(
        num_channels=projections[0].shape[1],
        num_encoder_blocks=len(stages),
        depths=depths,
        sr_ratios=sr_ratios,
        hidden_sizes=hidden_sizes,
        patch_sizes=[p.shape[-1] for p in projections],
        strides=list(MIT_STRIDES[:len(stages)]),
        num_attention_heads=[size // hidden_sizes[0] for size in hidden_sizes],
        mlp_ratios=mlp_ratios,
        num_labels=state_dict['decode_head.conv_seg.weight'].shape[0],
        layer_norm_eps=MMSEG_LAYER_NORM_EPS,
    )
    return config, state_dict['decode_head.convs.0.conv.weight'].shape[0]


class _ConvBNReLU(nn.Module):
    """mmcv's ``ConvModule`` as mmseg's SegformerHead builds it: 1x1 conv (no bias), BatchNorm, ReLU."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class MMSegSegformerHead(nn.Module):
    """mmseg's ``SegformerHead``: per-stage 1x1 conv-BN-ReLU, upsampling to stage 1, fusion, classifier.

    Args:
        in_channels (list[int]): Channels of the encoder stages.
        channels (int): Decoder channels (mmseg's ``channels``).
        num_classes (int): Output classes.
    """

    def __init__(self, in_channels, channels, num_classes):
        super().__init__()
        self.convs = nn.ModuleList(_ConvBNReLU(c, channels) for c in in_channels)
        self.fusion_conv = _ConvBNReLU(channels * len(in_channels), channels)
        self.conv_seg = nn.Conv2d(channels, num_classes, kernel_size=1)

    def forward(self, features):
        """features: the stage outputs, (N, in_channels[i], H/4/2^i, W/4/2^i) -> logits (N, classes, H/4, W/4)."""
        size = features[0].shape[2:]
        projected = [F.interpolate(conv(f), size=size, mode='bilinear', align_corners=False)
                     for conv, f in zip(self.convs, features)]
        return self.conv_seg(self.fusion_conv(torch.cat(projected, dim=1)))


class MMSegSegformer(nn.Module):
    """SegFormer as mmseg builds it: transformers' MiT encoder (LayerNorm eps 1e-6) + :class:`MMSegSegformerHead`.

    Args:
        config (SegformerConfig): Encoder architecture and ``num_labels``.
        decoder_channels (int): Channels of the head (256 in mmseg's SegFormer configs).
    """

    def __init__(self, config, decoder_channels):
        super().__init__()
        self.segformer = SegformerModel(config)
        for module in self.segformer.modules():
            if isinstance(module, nn.LayerNorm):
                module.eps = MMSEG_LAYER_NORM_EPS
        self.decode_head = MMSegSegformerHead(config.hidden_sizes, decoder_channels, config.num_labels)

    def forward(self, pixel_values):
        """pixel_values (N, 3, H, W), normalised -> logits (N, num_labels, ceil(H/4), ceil(W/4))."""
        features = self.segformer(pixel_values, output_hidden_states=True).hidden_states
        return self.decode_head(features)


def load_mmseg_segformer(path):
    """Build :class:`MMSegSegformer` from an mmseg checkpoint file (``{'state_dict': ..., 'meta': ...}``).

    Raises:
        FileNotFoundError: No file at ``path``.
        CheckpointMismatchError: The converted weights do not fit the architecture read from them.
    """
    state_dict, _ = load_state_dict(path, param_key='auto')
    converted = mmseg_to_hf_state_dict(state_dict)
    model = MMSegSegformer(*mmseg_segformer_config(state_dict))
    mismatch = describe_mismatch(model.state_dict(), converted)
    if mismatch:
        raise CheckpointMismatchError(f'{path}: the mmseg SegFormer weights do not fit:\n{mismatch}')
    model.load_state_dict(converted)
    return model.eval()
