# Copyright (c) mmfusion contributors. All rights reserved.
from typing import Optional

import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmfusion.registry import MODELS
from mmfusion.utils.image_filters import ssim
from ..utils import SALIENCY_MODES, saliency_weight_map


@MODELS.register_module()
class SaliencyTargetLoss(nn.Module):
    r"""BDLFusion's fusion loss (Liu et al., IJCAI 2023, ``L_enh``):

    .. math::
        P = m \odot I_{ir} + (1 - m) \odot Y_{vis}, \qquad
        L = w_{l1} \lVert F - P \rVert_1 + w_{ssim} (1 - \mathrm{SSIM}(F, P))

    with :math:`w_{l1} = 1`, :math:`w_{ssim} = 1.1` (``Fusionloss_grad2``),
    the L1 a mean over pixels and SSIM with an 11x11 Gaussian window,
    :math:`\sigma = 1.5` (:func:`mmfusion.utils.image_filters.ssim`).

    The saliency weight map :math:`m` is computed on the fly from the two
    inputs (:func:`~mmfusion.models.utils.saliency.saliency_weight_map`,
    ``saliency_mode``), or taken from ``forward(..., saliency=m)`` when given
    (e.g. the authors' precomputed ``Mask/*.png`` loaded by the pipeline).

    ``forward(fused, ir, vis_y, saliency=None)`` returns
    ``{'loss_l1', 'loss_ssim'}``, already weighted. :meth:`pseudo_target`
    gives :math:`P`, the "real" samples of BDLFusion's discriminator.
    """

    def __init__(self,
                 l1_weight: float = 1.0,
                 ssim_weight: float = 1.1,
                 saliency_mode: str = 'vsm_weight',
                 window_size: int = 11,
                 sigma: float = 1.5):
        super().__init__()
        if saliency_mode not in SALIENCY_MODES:
            raise ValueError(f'saliency_mode must be one of {SALIENCY_MODES}, '
                             f'got {saliency_mode!r}')
        self.l1_weight = l1_weight
        self.ssim_weight = ssim_weight
        self.saliency_mode = saliency_mode
        self.window_size = window_size
        self.sigma = sigma

    def pseudo_target(self,
                      ir: Tensor,
                      vis_y: Tensor,
                      saliency: Optional[Tensor] = None) -> Tensor:
        """:math:`P = m \\odot I_{ir} + (1 - m) \\odot Y_{vis}`."""
        if saliency is None:
            saliency = saliency_weight_map(ir, vis_y, self.saliency_mode)
        elif saliency.shape[-2:] != ir.shape[-2:]:
            raise ValueError(f'saliency map of shape {tuple(saliency.shape)} '
                             f'does not match the images {tuple(ir.shape)}')
        m = saliency[:, :1]
        return m * ir + (1 - m) * vis_y

    def forward(self,
                fused: Tensor,
                ir: Tensor,
                vis_y: Tensor,
                saliency: Optional[Tensor] = None,
                **kwargs) -> dict:
        target = self.pseudo_target(ir, vis_y, saliency)
        loss_ssim = 1 - ssim(fused, target, self.window_size, self.sigma)
        return dict(
            loss_l1=self.l1_weight * F.l1_loss(fused, target),
            loss_ssim=self.ssim_weight * loss_ssim)
