"""Step 1 of DeSRA's detection: ADE20K semantic segmentation of the GAN-SR image with SegFormer.

Two weight formats are read:

* transformers: a folder written by ``save_pretrained`` or a hub id already in the local cache, e.g.
  ``nvidia/segformer-b5-finetuned-ade-640-640`` (B5, ADE20K, 640x640), read without network; or
  ``hf://nvidia/segformer-b5-finetuned-ade-640-640``, downloaded into the cache when the environment allows it
  (not with ``HF_HUB_OFFLINE=1``; :mod:`desra.weights.hub`);
* mmsegmentation: the ``.pth`` checkpoint of the DeSRA release
  (``segformer_mit-b5_640x640_160k_ade20k_20220617_203542-940a6bd8.pth``), see :mod:`.mmseg_segformer`; also as
  ``hf://<owner>/<repo>/<file>.pth``.

Inference follows mmseg's ADE20K test pipeline: resize keeping the aspect ratio so that the long side is at most
2048 and the short side at most 640 (``scale``; whichever bound is tighter, enlarging small images), bilinear;
normalise with ImageNet's mean and std on 0..255 RGB; one forward pass over the whole image (under autocast, see
below); logits resized bilinearly to the image size (mmseg does it in two steps, through the network's input size;
one step here); argmax. Labels are ADE20K indices (``ade20k_classes.txt``) whatever the model calls its classes.

YAML (under ``detector:``)::

    segmenter:
      type: segformer          # or: none (no semantic adjustment: weight 1 everywhere)
      model_path: nvidia/segformer-b5-finetuned-ade-640-640
      scale: [2048, 640]
      autocast: auto           # auto: fp16 on CUDA, full precision on the CPU; or fp16, bf16, false (any device)

``autocast`` is the precision of the forward pass. ``auto`` keeps the CPU in float32 because fp16 is slow there;
``bf16`` on a CPU with AMX / AVX512-BF16 (``lscpu``) runs SegFormer-B5 about 1.9x faster than float32. Labels can
change where two classes' logits nearly tie, more often in bf16 (8 bits of mantissa) than in fp16 (11).
"""
import os
from contextlib import nullcontext

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from desra.weights.hub import resolve_weights

#: The B5 ADE20K SegFormer on the Hugging Face hub.
DEFAULT_SEGFORMER_MODEL = 'nvidia/segformer-b5-finetuned-ade-640-640'
#: Where the DeSRA release publishes its SegFormer checkpoint and config (see its README).
DESRA_RELEASE_URL = 'https://drive.google.com/drive/folders/10vzKAJjHm5GEb0_LESnHYmuCnBwdoFpm?usp=sharing'
#: Number of ADE20K classes.
NUM_ADE20K_CLASSES = 150
#: mmseg's ADE20K normalisation, on 0..255 RGB.
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)
#: Classes upsampled at once when turning logits into labels (bounds memory to 16 full-size maps).
_CLASSES_PER_CHUNK = 16

DEFAULT_SEGMENTER_OPT = {'type': 'segformer', 'model_path': DEFAULT_SEGFORMER_MODEL, 'scale': [2048, 640],
                         'autocast': 'auto'}
#: ``autocast`` values other than ``auto``, and the dtype each runs the forward pass in (None: float32).
AUTOCAST_DTYPES = {'fp16': torch.float16, 'bf16': torch.bfloat16, False: None, None: None, 'false': None,
                   'none': None}


def autocast_dtype(autocast, device):
    """The dtype of the forward pass for an ``autocast`` option on ``device`` (None: no autocast, float32).

    Raises:
        ValueError: ``autocast`` is not ``auto``, ``fp16``, ``bf16`` or false.
    """
    if autocast == 'auto':
        return torch.float16 if torch.device(device).type == 'cuda' else None
    if autocast not in AUTOCAST_DTYPES:
        raise ValueError(f'segmenter autocast must be auto, fp16, bf16 or false, got {autocast!r}')
    return AUTOCAST_DTYPES[autocast]


class SegmenterWeightsError(FileNotFoundError):
    """The configured segmenter's weights are not on this machine; the message says where to get them."""


def _missing_weights_message(model_path, reason):
    return (f'SegFormer weights "{model_path}" not found ({reason}). Get the ADE20K SegFormer-B5 either from the '
            f'Hugging Face hub (model_path: hf://{DEFAULT_SEGFORMER_MODEL} downloads it where the network is allowed; '
            f'or `hf download {DEFAULT_SEGFORMER_MODEL}`, then model_path: {DEFAULT_SEGFORMER_MODEL}) or '
            f'as the mmseg checkpoint of the DeSRA release ({DESRA_RELEASE_URL}; model_path: the .pth file). '
            'Or set `segmenter: {type: none}` to detect without semantic adjustment (weight 1 for every pixel).')


class _LogitsOf(nn.Module):
    """Adapts transformers' ``SegformerForSemanticSegmentation`` to ``forward(pixel_values) -> logits``."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, pixel_values):
        return self.model(pixel_values=pixel_values).logits


def _local_model_folder(model_path):
    """The folder of a transformers model: ``model_path`` itself, or the cached snapshot of a hub id.

    The hub cache is read as plain files: the network code of ``huggingface_hub`` is never reached.

    Raises:
        SegmenterWeightsError: Neither a folder nor a hub id in the local cache.
    """
    from huggingface_hub import try_to_load_from_cache

    if os.path.isdir(model_path):
        return model_path
    try:
        cached_config = try_to_load_from_cache(model_path, 'config.json')
    except ValueError:  # not a valid hub id either
        cached_config = None
    if not isinstance(cached_config, str):
        raise SegmenterWeightsError(_missing_weights_message(model_path, 'not a saved model folder, nor a hub id '
                                                             'in the local cache'))
    return os.path.dirname(cached_config)


def check_segformer_weights(model_path):
    """The local source of SegFormer weights ``model_path`` names, without loading them (the commands' preflight).

    Returns:
        str: The mmseg ``.pth`` file, or the transformers model folder.

    Raises:
        SegmenterWeightsError: The weights are not available locally; the message says where to get them.
    """
    model_path = resolve_weights(model_path)  # a Hugging Face hub id: its file or snapshot folder in the cache
    if model_path.endswith(('.pth', '.pt')):
        if not os.path.isfile(model_path):
            raise SegmenterWeightsError(_missing_weights_message(model_path, 'no such file'))
        return model_path
    return _local_model_folder(model_path)


def load_segformer(model_path):
    """Load SegFormer weights from a transformers folder / cached hub id or an mmseg ``.pth`` checkpoint.

    Returns:
        tuple[nn.Module, int]: A model in eval mode mapping normalised (N, 3, H, W) images to logits
        (N, num_labels, H/4, W/4), and ``num_labels``.

    Raises:
        SegmenterWeightsError: The weights are not available locally.
        FileNotFoundError: A hub id ``hf://...`` cannot be had (the message gives the ``hf download`` command).
    """
    # transformers takes seconds to import: only detectors that segment pay for it.
    from transformers import SegformerForSemanticSegmentation

    from desra.detection.mmseg_segformer import load_mmseg_segformer

    source = check_segformer_weights(model_path)
    if os.path.isfile(source):
        model = load_mmseg_segformer(source)
        return model, model.decode_head.conv_seg.out_channels
    folder = source
    try:
        model = SegformerForSemanticSegmentation.from_pretrained(folder, local_files_only=True)
    except OSError as error:
        raise SegmenterWeightsError(_missing_weights_message(model_path, f'{folder}: {error}')) from error
    return _LogitsOf(model).eval(), model.config.num_labels


def keep_ratio_size(height, width, scale=(2048, 640)):
    """mmseg's keep-ratio test size: the largest (w, h) with long side <= max(scale) and short side <= min(scale).

    Returns:
        tuple[int, int]: (new_width, new_height), rounded as mmcv rounds them.
    """
    factor = min(max(scale) / max(height, width), min(scale) / min(height, width))
    return int(width * factor + 0.5), int(height * factor + 0.5)


def logits_to_labels(logits, size):
    """Resize logits bilinearly to ``size`` and take the argmax over classes, a chunk of classes at a time.

    Args:
        logits (Tensor): (1, num_classes, h, w).
        size (tuple[int, int]): (H, W).

    Returns:
        Tensor: int64, (H, W) on the logits' device; ties go to the lower class index, as ``argmax``.
    """
    best_score = labels = None
    for start in range(0, logits.shape[1], _CLASSES_PER_CHUNK):
        chunk = F.interpolate(logits[:, start:start + _CLASSES_PER_CHUNK].float(), size=size, mode='bilinear',
                              align_corners=False)[0]
        score, index = chunk.max(dim=0)
        if best_score is None:
            best_score, labels = score, index
        else:
            better = score > best_score
            best_score = torch.where(better, score, best_score)
            labels = torch.where(better, index + start, labels)
    return labels


class SegformerSegmenter:
    """ADE20K labels of RGB images with SegFormer, as mmseg's test pipeline computes them.

    Args:
        model_path (str): transformers folder or cached hub id, or an mmseg ``.pth`` checkpoint.
        device (str | torch.device): Where the network runs.
        scale (tuple[int, int]): Test scale (long-side bound, short-side bound), mmseg's ``(2048, 640)``.
        autocast (str | bool): ``auto`` (fp16 on CUDA, float32 on the CPU), ``fp16``, ``bf16`` or false
            (module docstring).

    Attributes:
        autocast_dtype (torch.dtype | None): The dtype of the forward pass (None: float32).

    Raises:
        SegmenterWeightsError: The weights are missing (at construction, before any image is processed).
        ValueError: The model does not predict the 150 ADE20K classes, or ``autocast`` is unknown.
    """

    def __init__(self, model_path=DEFAULT_SEGFORMER_MODEL, device='cpu', scale=(2048, 640), autocast='auto'):
        self.device = torch.device(device)
        self.autocast_dtype = autocast_dtype(autocast, self.device)
        model, num_labels = load_segformer(model_path)
        if num_labels != NUM_ADE20K_CLASSES:
            raise ValueError(f'{model_path}: the segmenter predicts {num_labels} classes; DeSRA needs the '
                             f'{NUM_ADE20K_CLASSES} ADE20K classes (its class weights are per ADE20K label)')
        self.model = model.to(self.device)
        self.scale = tuple(scale)
        self._mean = torch.tensor(IMAGENET_MEAN, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(IMAGENET_STD, device=self.device).view(1, 3, 1, 1)

    @torch.no_grad()
    def __call__(self, rgb255):
        """Label every pixel.

        Args:
            rgb255 (np.ndarray): float or uint8, (H, W, 3), RGB, 0..255.

        Returns:
            np.ndarray: int32, (H, W): ADE20K label indices in [0, 149].
        """
        if rgb255.ndim != 3 or rgb255.shape[2] != 3:
            raise ValueError(f'the segmenter expects an (H, W, 3) RGB image, got shape {rgb255.shape}')
        height, width = rgb255.shape[:2]
        resized = cv2.resize(np.asarray(rgb255, dtype=np.float32), keep_ratio_size(height, width, self.scale),
                             interpolation=cv2.INTER_LINEAR)
        pixels = torch.from_numpy(resized).to(self.device).permute(2, 0, 1)[None]
        pixels = (pixels - self._mean) / self._std
        with torch.autocast(self.device.type, dtype=self.autocast_dtype) if self.autocast_dtype else nullcontext():
            logits = self.model(pixels)
        return logits_to_labels(logits, (height, width)).to(torch.int32).cpu().numpy()


def build_segmenter(segmenter_opt, device='cpu'):
    """Build the segmenter of a ``segmenter:`` option mapping; None for ``type: none``.

    Args:
        segmenter_opt (dict | None): ``{type: none}`` or ``{type: segformer, model_path, scale, autocast}``
            (missing keys take :data:`DEFAULT_SEGMENTER_OPT`'s values; None means that default).
        device (str | torch.device): Where the network runs.

    Returns:
        SegformerSegmenter | None

    Raises:
        ValueError: Unknown ``type`` or keys.
        SegmenterWeightsError: The weights are missing.
    """
    opt = dict(DEFAULT_SEGMENTER_OPT, **(segmenter_opt or {}))
    segmenter_type = str(opt.pop('type')).lower()
    if segmenter_type == 'none':
        return None
    if segmenter_type != 'segformer':
        raise ValueError(f'segmenter type "{segmenter_type}" is not supported; use segformer or none')
    unknown = sorted(set(opt) - set(DEFAULT_SEGMENTER_OPT))
    if unknown:
        raise ValueError(f'unknown segmenter option(s) {unknown}; known: {sorted(DEFAULT_SEGMENTER_OPT)}')
    return SegformerSegmenter(opt['model_path'], device=device, scale=opt['scale'], autocast=opt['autocast'])
