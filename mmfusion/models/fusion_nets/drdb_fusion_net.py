# Copyright (c) mmfusion contributors. All rights reserved.
"""BDLFusion's fusion network (Liu et al., IJCAI 2023, ``enhance_net``)."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mmfusion.registry import MODELS
from ..utils import CompiledInferenceMixin, check_fusion_inputs


class DRDB(nn.Module):
    r"""Dilated residual dense block.

    Five 3x3 convs with dilation 2 and ReLU, each adding ``growth`` channels
    to a dense concatenation; a 1x1 conv back to ``channels``; then
    :math:`x + \mathrm{ReLU}(W_{1\times1} [x, d_1, \dots, d_5])`.
    """

    def __init__(self,
                 channels: int = 64,
                 growth: int = 32,
                 num_layers: int = 5):
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv2d(channels + i * growth, growth, 3, padding=2, dilation=2)
            for i in range(num_layers))
        self.fuse = nn.Conv2d(channels + num_layers * growth, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        feats = x
        for conv in self.convs:
            feats = torch.cat([feats, F.relu(conv(feats))], dim=1)
        return x + F.relu(self.fuse(feats))


class _StraightThroughClamp(torch.autograd.Function):
    """``clamp(x, 0, 1)`` forward, identity backward."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        return x.clamp(0, 1)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        return grad


@MODELS.register_module()
class DRDBFusionNet(CompiledInferenceMixin, BaseModule):
    """BDLFusion's fusion network F (``Fusion_Network_IJ``), 417,730
    parameters.

    ``concat[IR, VIS-Y]`` -> 3x3 conv 2->64 + PReLU -> two :class:`DRDB`
    (growth 32) -> 3x3 conv 64->32 + PReLU -> 3x3 conv 32->1 + PReLU. The
    three PReLUs are one shared module with a single slope, as published.

    The published net has no output bound, and its training uses the raw
    output (the discriminator and the fusion loss see it; the task sees it
    through a clamp of the recombined RGB): ``clamp_output=False`` (default)
    returns it, as published. ``True`` clamps it to [0, 1] with a
    straight-through gradient (values are valid images, gradients those of
    the unbounded net); mmfusion clamps every fused image it outputs
    anyway (``pred_fused_y``, ``pred_fused``).

    ``forward(ir, vis_y)``: two ``(N, 1, H, W)`` images in [0, 1], any size.
    ``compile_inference=True`` runs no-grad forwards through
    ``torch.compile`` (see :mod:`mmfusion.models.utils.inference`).
    """

    def __init__(self,
                 channels: int = 64,
                 growth: int = 32,
                 num_blocks: int = 2,
                 clamp_output: bool = False,
                 compile_inference: bool = False,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.compile_inference = compile_inference
        self.stem = nn.Conv2d(2, channels, 3, padding=1)
        for i in range(num_blocks):
            self.add_module(f'drdb{i + 1}', DRDB(channels, growth))
        self.num_blocks = num_blocks
        self.head_conv1 = nn.Conv2d(channels, channels // 2, 3, padding=1)
        self.head_conv2 = nn.Conv2d(channels // 2, 1, 3, padding=1)
        self.act = nn.PReLU()
        self.clamp_output = clamp_output

    def forward(self, ir: Tensor, vis_y: Tensor) -> Tensor:
        check_fusion_inputs(ir, vis_y, type(self).__name__)
        return self._dispatch(ir, vis_y)

    def _forward(self, ir: Tensor, vis_y: Tensor) -> Tensor:
        x = self.act(self.stem(torch.cat([ir, vis_y], dim=1)))
        for i in range(self.num_blocks):
            x = getattr(self, f'drdb{i + 1}')(x)
        x = self.act(self.head_conv2(self.act(self.head_conv1(x))))
        if self.clamp_output:
            x = _StraightThroughClamp.apply(x)
        return x
