# Copyright (c) mmfusion contributors. All rights reserved.
"""TarDAL's critics (the target and the detail discriminator)."""
from typing import Sequence

import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mmfusion.registry import MODELS


@MODELS.register_module()
class TarDALDiscriminator(BaseModule):
    """A WGAN critic of a 1-channel image of a fixed size: three 3x3
    stride-2 convs (``1 -> dim -> 2 dim -> 4 dim``, padding 1) each with
    LeakyReLU(0.2), flatten, one linear layer to a score; no output
    activation. The released v1.0 ``Discriminator`` layer for layer (the
    pre-v1.0 one used ReLU); parameter names ``conv.{0,1,2}.0``,
    ``linear`` as there. 242,177 parameters at ``dim=32, size=(320,
    320)``.

    Args:
        dim: base width (32 published).
        size: ``(h, w)`` of the inputs (the training crop: 320 x 320 in the
            released detection configs, 224 x 224 in the fusion-only one):
            the linear layer has ``(h // 8) (w // 8) 4 dim`` inputs.
        resize_input: inputs of another size are resized (bilinear) to
            ``size``; ``False`` (default, as released) makes them an error.
        init_cfg: mmengine init config (default: PyTorch's initialisation,
            as released).

    ``forward(x)``: ``(N, 1, H, W)`` -> scores ``(N, 1)``.
    """

    def __init__(self,
                 dim: int = 32,
                 size: Sequence[int] = (320, 320),
                 resize_input: bool = False,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.size = (int(size[0]), int(size[1]))
        self.resize_input = resize_input
        chans = [1, dim, dim * 2, dim * 4]
        self.conv = nn.Sequential(*[
            nn.Sequential(
                nn.Conv2d(chans[i], chans[i + 1], 3, 2, 1),
                nn.LeakyReLU(0.2, True)) for i in range(3)
        ])
        self.linear = nn.Linear(
            (self.size[0] // 8) * (self.size[1] // 8) * 4 * dim, 1)

    def forward(self, x: Tensor) -> Tensor:
        if tuple(x.shape[-2:]) != self.size:
            if not self.resize_input:
                raise ValueError(
                    f'TarDALDiscriminator was built for {self.size[0]}x'
                    f'{self.size[1]} inputs (size=...), got '
                    f'{x.shape[-2]}x{x.shape[-1]}: resize the training pairs '
                    'to it in the pipeline, or set resize_input=True')
            x = F.interpolate(
                x, self.size, mode='bilinear', align_corners=False)
        return self.linear(self.conv(x).flatten(1))
