# Copyright (c) mmfusion contributors. All rights reserved.
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmfusion.registry import MODELS
from mmfusion.utils.image_filters import sobel_magnitude_l1


@MODELS.register_module()
class MaxIntensityTextureLoss(nn.Module):
    r"""SeAFusion's content loss (Tang et al. 2022, Eq. 3-5).

    .. math::
        L_{int} = \frac{1}{HW}\lVert F - \max(I_{ir}, I_{vi})\rVert_1, \quad
        L_{text} = \frac{1}{HW}\big\lVert |\nabla F| -
                   \max(|\nabla I_{ir}|, |\nabla I_{vi}|)\big\rVert_1

    with :math:`|\nabla| = |S_x| + |S_y|` (Sobel, zero padding) and
    :math:`L_{content} = w_{int} L_{int} + w_{text} L_{text}`, ``w_text = 10``.

    ``forward(fused, ir, vis_y)`` returns ``{'loss_int', 'loss_texture'}``,
    already weighted; both are means over all pixels of the batch.
    """

    def __init__(self, int_weight: float = 1.0, texture_weight: float = 10.0):
        super().__init__()
        self.int_weight = int_weight
        self.texture_weight = texture_weight

    def forward(self, fused: Tensor, ir: Tensor, vis_y: Tensor,
                **kwargs) -> dict:
        target_int = torch.maximum(ir, vis_y)
        target_grad = torch.maximum(
            sobel_magnitude_l1(ir), sobel_magnitude_l1(vis_y))
        loss_int = F.l1_loss(fused, target_int)
        loss_texture = F.l1_loss(sobel_magnitude_l1(fused), target_grad)
        return dict(
            loss_int=self.int_weight * loss_int,
            loss_texture=self.texture_weight * loss_texture)
