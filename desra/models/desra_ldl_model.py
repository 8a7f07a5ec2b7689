"""DeSRA fine-tuning of LDL generators: :class:`DeSRAModel` plus LDL's artifact-map loss."""
import torch
from basicsr.utils.registry import MODEL_REGISTRY

from desra.models.desra_model import DeSRAModel


@MODEL_REGISTRY.register()
class DeSRALDLModel(DeSRAModel):
    """:class:`DeSRAModel` with LDL's artifact-map loss (``train:ldl_opt``, type ``LDLArtifactLoss``).

    LDL (Liang et al., CVPR 2022) trains RRDBNet (and SwinIR) generators with an extra loss on pixels whose residual
    varies locally more than that of the EMA generator (:mod:`desra.losses.ldl_loss`); fine-tuning an LDL model
    keeps it, so the model does not unlearn what LDL taught it. Needs ``train:ema_decay > 0`` (the EMA generator).
    The artifact map compares against the plain ``gt`` (not USM-sharpened), as LDL does.
    """

    def check_ldl_option(self):
        """Require ``train:ldl_opt`` and the EMA generator it compares with."""
        if self.cri_ldl is None:
            raise ValueError('DeSRALDLModel needs train:ldl_opt (e.g. {type: LDLArtifactLoss, loss_weight: 1.0})')
        if self.ema_decay <= 0:
            raise ValueError('DeSRALDLModel needs train:ema_decay > 0: LDL\'s artifact map uses the EMA generator')

    def generator_loss(self, l1_gt, percep_gt, loss_dict):
        l_g_total = super().generator_loss(l1_gt, percep_gt, loss_dict)
        with torch.no_grad():
            output_ema = self.net_g_ema(self.lq)
        loss_dict['l_g_ldl'] = l_g_ldl = self.cri_ldl(self.output, output_ema, self.gt)
        return l_g_total + l_g_ldl
