"""Losses restricted to, or weighted by, image regions: DeSRA's artifact masks during fine-tuning.

All maps here are (N, C, H, W) tensors; masks and weights are (N, 1, H, W), non-negative (a DeSRA mask is 1 on
artifact pixels, 0 elsewhere) and broadcast over the channels. The reduction they share is the *weighted mean*

    weighted_mean(loss_map, weight) = sum(weight * loss_map) / (C * sum(weight) + eps),   eps = 1e-8,

which equals the plain mean when ``weight`` is all ones (up to float summation order) and is 0 when ``weight`` is all
zeros (an empty mask contributes nothing instead of NaN).

Under DDP (training with several processes) the denominator is the mean of the processes' ``sum(weight)``, all-reduced
while the loss is built for a backward pass (``loss_map`` requires grad): DDP averages the processes' gradients, so
the step is that of one weighted mean over the whole global batch, as one process with all the data would take, even
when the processes' crops hold different artifact areas. Outside training (no grad, or one process) nothing is
exchanged.
"""
import torch.distributed as dist
from basicsr.losses.gan_loss import GANLoss
from basicsr.utils.registry import LOSS_REGISTRY
from torch import nn
from torch.nn import functional as F

#: Added to the denominator of :func:`weighted_mean` so that an all-zero weight gives 0, not NaN.
WEIGHTED_MEAN_EPS = 1e-8


def fit_weight(weight, size):
    """Bring a (N, 1, H, W) weight map to the spatial ``size`` (h, w) of a loss map by area averaging.

    A network's feature maps (VGG layers) are smaller than the image; the weight of a feature pixel is then the mean
    weight of the image pixels it covers. A map already of that size is returned unchanged.
    """
    if weight.shape[-2:] == tuple(size):
        return weight
    return F.adaptive_avg_pool2d(weight, size)


def process_mean_weight_sum(weight, loss_map):
    """``sum(weight)``, averaged over the DDP processes when ``loss_map`` is built for a backward pass under
    ``torch.distributed`` (every process then computes the same loss term in the same step); else this process's.

    Returns:
        Tensor: Scalar, no gradient.
    """
    total = weight.sum().detach()
    if loss_map.requires_grad and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        total = total.clone()
        dist.all_reduce(total)
        total /= dist.get_world_size()
    return total


def weighted_mean(loss_map, weight, eps=WEIGHTED_MEAN_EPS):
    """``sum(weight * loss_map) / (C * sum(weight) + eps)`` (module docstring; under DDP ``sum(weight)`` is the
    processes' mean, see :func:`process_mean_weight_sum`).

    Args:
        loss_map (Tensor): (N, C, H, W) element-wise loss.
        weight (Tensor): (N, 1, H, W) non-negative weights (resized to ``loss_map`` by :func:`fit_weight`).

    Returns:
        Tensor: Scalar.
    """
    weight = fit_weight(weight, loss_map.shape[-2:])
    return (weight * loss_map).sum() / (loss_map.size(1) * process_mean_weight_sum(weight, loss_map) + eps)


@LOSS_REGISTRY.register()
class MaskedL1Loss(nn.Module):
    """L1 loss restricted to a mask: the mean absolute error over the masked pixels only.

    ``loss = loss_weight * sum(mask * |pred - target|) / (C * sum(mask) + eps)`` for ``reduction='mean'``: every
    masked pixel (and channel) counts equally whatever the mask's size, so the term keeps its scale on images with
    little or much artifact area, and a batch without mask pixels gives exactly 0.

    Args:
        loss_weight (float): Multiplier of the loss.
        reduction (str): ``'mean'`` (above), ``'sum'`` (``sum(mask * |pred - target|)``) or ``'none'`` (the
            (N, C, H, W) map ``mask * |pred - target|``).
    """

    def __init__(self, loss_weight=1.0, reduction='mean'):
        super().__init__()
        if reduction not in ('none', 'mean', 'sum'):
            raise ValueError(f'MaskedL1Loss: unsupported reduction "{reduction}"; use none, mean or sum')
        self.loss_weight = loss_weight
        self.reduction = reduction

    def forward(self, pred, target, mask):
        """
        Args:
            pred (Tensor): (N, C, H, W), e.g. the SR output in [0, 1].
            target (Tensor): (N, C, H, W), e.g. the pseudo ground truth in [0, 1].
            mask (Tensor): (N, 1, H, W), 1 on the pixels that count, 0 elsewhere (soft values weight pixels).

        Returns:
            Tensor: Scalar (``mean``, ``sum``) or (N, C, H, W) (``none``).
        """
        error = (pred - target).abs()
        if self.reduction == 'mean':
            return self.loss_weight * weighted_mean(error, mask)
        error = mask * error
        return self.loss_weight * (error.sum() if self.reduction == 'sum' else error)


@LOSS_REGISTRY.register()
class RegionGANLoss(GANLoss):
    """basicsr's ``GANLoss`` whose generator term can be weighted per pixel (per-pixel discriminators only).

    Without ``weight`` it is exactly ``GANLoss``. With a (N, 1, H, W) ``weight`` (DeSRA: ``1 + (w - 1) * mask``,
    ``train:gan_mask_weight`` = ``w``) the per-pixel loss of a per-pixel discriminator such as
    ``UNetDiscriminatorSN`` (logits (N, 1, H, W)) is reduced by :func:`weighted_mean` instead of the plain mean, so
    ``w < 1`` lowers the adversarial push inside the artifact regions (``w = 0`` removes it there).

    Only ``gan_type`` ``vanilla`` (binary cross-entropy with logits) and ``lsgan`` (squared error) have a per-pixel
    loss; the other types raise with a weight. Arguments as ``GANLoss``.
    """

    def forward(self, input, target_is_real, is_disc=False, weight=None):
        """
        Args:
            input (Tensor): Discriminator logits, (N, 1, H, W) when ``weight`` is given.
            target_is_real (bool): Whether the target label is "real".
            is_disc (bool): Loss of the discriminator (``loss_weight`` not applied) or of the generator.
            weight (Tensor | None): (N, 1, H', W') non-negative per-pixel weights, resized to ``input``.

        Returns:
            Tensor: Scalar.
        """
        if weight is None:
            return super().forward(input, target_is_real, is_disc)
        if input.dim() != 4:
            raise ValueError(f'RegionGANLoss: per-pixel weights need (N, 1, H, W) logits, got shape '
                             f'{tuple(input.shape)} (use a per-pixel discriminator such as UNetDiscriminatorSN)')
        target = self.get_target_label(input, target_is_real)
        if self.gan_type == 'vanilla':
            loss_map = F.binary_cross_entropy_with_logits(input, target, reduction='none')
        elif self.gan_type == 'lsgan':
            loss_map = F.mse_loss(input, target, reduction='none')
        else:
            raise ValueError(f'RegionGANLoss: per-pixel weights need gan_type vanilla or lsgan, not {self.gan_type}')
        loss = weighted_mean(loss_map, weight)
        return loss if is_disc else loss * self.loss_weight
