"""The VGG19 perceptual loss of Real-ESRGAN, from local weights only, with optional per-pixel region weights.

basicsr's ``PerceptualLoss`` builds its VGG19 from ``experiments/pretrained_models/vgg19-dcbb9e9d.pth`` (relative to
the working directory) when that file exists and otherwise asks torchvision for ImageNet weights, which downloads
them unless torchvision's cache (``torch.hub.get_dir()/checkpoints``) already holds them. DeSRA never downloads at run
time: :func:`find_vgg19_weights` looks in those places (or at an explicit path) and fails with directions when the
file is in none of them, before any network is built.

basicsr's ``VGGFeatureExtractor`` reads the file with a plain ``torch.load``, which on torch < 2.6 unpickles any
object (code execution from a malicious file). :class:`RegionPerceptualLoss` reads the weights itself with
``weights_only=True`` (:func:`load_vgg19`) and hands basicsr the network, so basicsr never loads a file.
"""
import os
import pickle
import types

import torch
import torchvision
from basicsr.archs import vgg_arch
from basicsr.losses.basic_loss import PerceptualLoss
from basicsr.utils.registry import LOSS_REGISTRY

from desra.io.paths import not_found
from desra.losses.masked_loss import weighted_mean

#: File name of torchvision's ImageNet VGG19 (``VGG19_Weights.IMAGENET1K_V1``), the one Real-ESRGAN trains with.
VGG19_FILENAME = 'vgg19-dcbb9e9d.pth'
VGG19_URL = f'https://download.pytorch.org/models/{VGG19_FILENAME}'


def vgg19_search_paths():
    """Where VGG19 weights are looked for when no path is given, in order: basicsr's place, torchvision's cache."""
    return [vgg_arch.VGG_PRETRAIN_PATH, os.path.join(torch.hub.get_dir(), 'checkpoints', VGG19_FILENAME)]


def find_vgg19_weights(path=None):
    """The VGG19 weight file to use; never downloads.

    Args:
        path (str | None): An explicit file (``perceptual_opt:vgg19_path``); None searches :func:`vgg19_search_paths`.

    Returns:
        str: An existing file.

    Raises:
        FileNotFoundError: The file is missing; the message says where to put it and where to get it.
    """
    if path is not None:
        path = os.path.expanduser(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f'perceptual_opt:vgg19_path: {path}: {not_found(path)}. It must be torchvision\'s '
                                    f'ImageNet VGG19 weights ({VGG19_FILENAME}, from {VGG19_URL}).')
        return path
    candidates = vgg19_search_paths()
    for candidate in candidates:
        if os.path.isfile(candidate):
            return candidate
    places = '\n'.join(f'  {os.path.abspath(candidate)}' for candidate in candidates)
    raise FileNotFoundError(
        f'The perceptual loss (train:perceptual_opt) needs torchvision\'s ImageNet VGG19 weights, {VGG19_FILENAME}, '
        f'and DeSRA does not download at run time. Put the file in one of these places:\n{places}\n'
        f'(the second is torchvision\'s cache: on a machine with internet, '
        f'`python -c "import torchvision; torchvision.models.vgg19(weights=\'IMAGENET1K_V1\')"` fills it; '
        f'the file itself is {VGG19_URL}), or set train:perceptual_opt:vgg19_path to the file '
        f'(type RegionPerceptualLoss). To train without the perceptual loss, remove train:perceptual_opt.')


def load_vgg19(path):
    """torchvision's VGG19 with the ImageNet weights of ``path``, read with ``weights_only=True`` (no pickled code
    runs).

    Raises:
        ValueError: The file is not a weights-only VGG19 state dict (e.g. a pickle holding code); names the file.
    """
    try:
        state_dict = torch.load(path, map_location='cpu', weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as error:
        raise ValueError(f'{path}: not a VGG19 weight file that loads with weights_only=True '
                         f'({" ".join(str(error).split())[:200]}); use {VGG19_FILENAME} from {VGG19_URL}') from None
    net = torchvision.models.vgg19(weights=None)
    try:
        net.load_state_dict(state_dict)
    except (RuntimeError, TypeError, AttributeError) as error:
        raise ValueError(f'{path}: not torchvision\'s VGG19 weights ({str(error).splitlines()[0]}); use '
                         f'{VGG19_FILENAME} from {VGG19_URL}') from None
    return net


@LOSS_REGISTRY.register()
class RegionPerceptualLoss(PerceptualLoss):
    """basicsr's ``PerceptualLoss`` with VGG19 weights from a local file and optional per-pixel region weights.

    Args:
        vgg19_path (str | None): The VGG19 weight file; None looks where basicsr and torchvision look
            (:func:`find_vgg19_weights`). Only ``vgg_type='vgg19'`` is supported.
        Others: as ``PerceptualLoss`` (Real-ESRGAN: ``layer_weights`` {conv1_2: 0.1, conv2_2: 0.1, conv3_4: 1,
            conv4_4: 1, conv5_4: 1}, ``criterion='l1'``, ``perceptual_weight=1``, ``style_weight=0``).

    Raises:
        FileNotFoundError: No VGG19 weights (see :func:`find_vgg19_weights`).
    """

    def __init__(self, layer_weights, vgg_type='vgg19', use_input_norm=True, range_norm=False, perceptual_weight=1.0,
                 style_weight=0., criterion='l1', vgg19_path=None):
        if vgg_type != 'vgg19':
            raise ValueError(f'RegionPerceptualLoss: only vgg_type vgg19 is supported, got {vgg_type}')
        vgg19 = load_vgg19(find_vgg19_weights(vgg19_path))
        # basicsr's VGGFeatureExtractor asks its module's ``vgg`` (torchvision.models) for a pretrained network when
        # VGG_PRETRAIN_PATH does not exist: it gets the one loaded above, and torch.load is never called on a file
        saved = vgg_arch.VGG_PRETRAIN_PATH, vgg_arch.vgg
        vgg_arch.VGG_PRETRAIN_PATH, vgg_arch.vgg = '', types.SimpleNamespace(vgg19=lambda pretrained: vgg19)
        try:
            super().__init__(layer_weights, vgg_type, use_input_norm, range_norm, perceptual_weight, style_weight,
                             criterion)
        finally:
            vgg_arch.VGG_PRETRAIN_PATH, vgg_arch.vgg = saved

    def forward(self, x, gt, weight=None):
        """
        Args:
            x (Tensor): (N, 3, H, W) SR output in [0, 1].
            gt (Tensor): (N, 3, H, W) target in [0, 1].
            weight (Tensor | None): (N, 1, H, W) non-negative per-pixel weights. Each layer's L1 feature distance is
                then reduced by :func:`~desra.losses.masked_loss.weighted_mean` with the weights area-averaged to the
                layer's resolution, instead of the plain mean (criterion ``l1`` only, no style loss).

        Returns:
            tuple[Tensor | None, Tensor | None]: (perceptual loss, style loss), as ``PerceptualLoss``.
        """
        if weight is None:
            return super().forward(x, gt)
        if self.criterion_type != 'l1' or self.style_weight > 0:
            raise ValueError('RegionPerceptualLoss: per-pixel weights need criterion l1 and style_weight 0')
        x_features = self.vgg(x)
        gt_features = self.vgg(gt.detach())
        percep_loss = sum(weighted_mean((x_features[k] - gt_features[k]).abs(), weight) * self.layer_weights[k]
                          for k in x_features)
        return percep_loss * self.perceptual_weight, None
