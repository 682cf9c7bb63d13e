# Copyright (c) mmfusion contributors. All rights reserved.
"""BDLFusion's discriminator: a 1x1 PatchGAN ("pixelGAN", Isola et al.)."""
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mmfusion.registry import MODELS


@MODELS.register_module()
class PixelDiscriminator(BaseModule):
    """Per-pixel real/fake logits of a 1-channel image.

    1x1 conv ``in -> base`` + LeakyReLU(0.2), 1x1 conv ``base -> 2 base``
    (no bias) + BatchNorm + LeakyReLU(0.2), 1x1 conv ``2 base -> 1`` (no
    bias). 8,704 parameters for ``in_channels=1, base_channels=64``.

    ``forward(img)`` maps ``(N, C, H, W)`` to logits ``(N, 1, H, W)``;
    BDLFusion feeds it the fused Y (fake) and the saliency pseudo-target
    (real) and uses mean logits (:class:`~mmfusion.models.MeanLogitGANLoss`).
    """

    def __init__(self,
                 in_channels: int = 1,
                 base_channels: int = 64,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.conv1 = nn.Conv2d(in_channels, base_channels, 1)
        self.conv2 = nn.Conv2d(base_channels, 2 * base_channels, 1, bias=False)
        self.bn = nn.BatchNorm2d(2 * base_channels)
        self.conv3 = nn.Conv2d(2 * base_channels, 1, 1, bias=False)

    def forward(self, img: Tensor) -> Tensor:
        x = F.leaky_relu(self.conv1(img), 0.2)
        x = F.leaky_relu(self.bn(self.conv2(x)), 0.2)
        return self.conv3(x)
