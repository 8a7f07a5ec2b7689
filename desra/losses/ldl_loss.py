"""LDL's artifact-map loss (Liang et al., "Details or Artifacts", CVPR 2022), for fine-tuning LDL generators.

With the SR output ``y`` of the generator being trained, the output ``y_ema`` of its EMA copy and the target ``g``
(all (N, 3, H, W) in [0, 1]), LDL's refined artifact map (basicsr's ``get_refined_artifact_map``, the code of
csjliang/LDL) is, per sample ``n``::

    r     = sum_c |g - y|                     residual of the trained model, (N, 1, H, W)
    r_ema = sum_c |g - y_ema|                 residual of the EMA model
    M     = var_n(r) ** (1/5) * localvar_k(r),  and M = 0 where r < r_ema

``var_n`` is the unbiased variance over the whole patch of sample ``n`` and ``localvar_k`` the unbiased variance
over the ``k x k`` window around each pixel (reflect padding, ``k = 7``). The loss is the L1 distance of the
weighted images, ``loss_weight * mean(|M * y - M * g|)``; as in LDL, gradients also flow through ``M``.
"""
from basicsr.losses.loss_util import get_refined_artifact_map
from basicsr.utils.registry import LOSS_REGISTRY
from torch import nn


@LOSS_REGISTRY.register()
class LDLArtifactLoss(nn.Module):
    """LDL's artifact-map loss (module docstring); ``train:ldl_opt`` of ``DeSRALDLModel``.

    Args:
        loss_weight (float): Multiplier of the loss (LDL: 1.0).
        ksize (int): Side of the local-variance window, pixels (LDL: 7).
    """

    def __init__(self, loss_weight=1.0, ksize=7):
        super().__init__()
        self.loss_weight = loss_weight
        self.ksize = ksize

    def forward(self, output, output_ema, gt):
        """
        Args:
            output (Tensor): (N, 3, H, W) output of the trained generator.
            output_ema (Tensor): (N, 3, H, W) output of its EMA copy (no gradient needed).
            gt (Tensor): (N, 3, H, W) target.

        Returns:
            Tensor: Scalar.
        """
        artifact_map = get_refined_artifact_map(gt, output, output_ema, self.ksize)
        return self.loss_weight * (artifact_map * output - artifact_map * gt).abs().mean()
