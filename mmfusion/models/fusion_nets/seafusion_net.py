# Copyright (c) mmfusion contributors. All rights reserved.
"""SeAFusion's real-time fusion network (Tang et al., Information Fusion 2022).

Two encoders (IR, VIS-Y), each ``3x3 conv 1->16`` and two gradient residual
dense blocks (GRDB 16->32, 32->48); a decoder of 3x3 convs 96->64->32->16->1
with ``tanh(x)/2 + 1/2`` output. Stride 1 throughout. 166,657 parameters (the
original declares BatchNorm layers it never uses; they are left out here).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mmfusion.registry import MODELS
from mmfusion.utils.image_filters import SOBEL_X, SOBEL_Y
from ..utils import CompiledInferenceMixin, check_fusion_inputs


class ConvLReLU(nn.Module):
    """3x3 (or kxk) conv followed by LeakyReLU."""

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: int = 3,
                 negative_slope: float = 0.2):
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        self.negative_slope = negative_slope

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(self.conv(x), self.negative_slope)


class LearnableSobel(nn.Module):
    """Depthwise ``|S_x * x| + |S_y * x|`` whose kernels start as Sobel and are
    trained."""

    def __init__(self, channels: int):
        super().__init__()
        self.weight_x = nn.Parameter(SOBEL_X.repeat(channels, 1, 1, 1))
        self.weight_y = nn.Parameter(SOBEL_Y.repeat(channels, 1, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        c = x.size(1)
        gx = F.conv2d(x, self.weight_x, padding=1, groups=c)
        gy = F.conv2d(x, self.weight_y, padding=1, groups=c)
        return gx.abs() + gy.abs()


class GRDB(nn.Module):
    """Gradient residual dense block.

    Main stream: dense block (two 3x3 conv + LeakyReLU(0.2), each output
    concatenated to its input) and a 1x1 conv ``3C -> out``. Residual stream:
    learnable Sobel magnitude and a 1x1 conv ``C -> out``. Output:
    ``LeakyReLU_{0.1}(main + residual)``.
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.dense1 = ConvLReLU(in_channels, in_channels)
        self.dense2 = ConvLReLU(2 * in_channels, in_channels)
        self.dense_proj = nn.Conv2d(3 * in_channels, out_channels, 1)
        self.sobel = LearnableSobel(in_channels)
        self.sobel_proj = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        d = torch.cat([x, self.dense1(x)], dim=1)
        d = torch.cat([d, self.dense2(d)], dim=1)
        main = self.dense_proj(d)
        residual = self.sobel_proj(self.sobel(x))
        return F.leaky_relu(main + residual, 0.1)


@MODELS.register_module()
class SeAFusionNet(CompiledInferenceMixin, BaseModule):
    """SeAFusion fusion network.

    Args:
        channels: encoder widths ``(stem, GRDB1, GRDB2)``.
        compile_inference: run no-grad forwards (testing, inference) through
            ``torch.compile``, about 2x faster on CPU with the same output;
            see :mod:`mmfusion.models.utils.inference`.
        init_cfg: mmengine init config.

    ``forward(ir, vis_y)`` takes ``(N, 1, H, W)`` tensors in [0, 1] of any size
    and returns the fused Y ``(N, 1, H, W)`` in [0, 1].
    """

    def __init__(self,
                 channels: tuple = (16, 32, 48),
                 compile_inference: bool = False,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.compile_inference = compile_inference
        c0, c1, c2 = channels
        for modality in ('vis', 'ir'):
            setattr(self, f'{modality}_stem', ConvLReLU(1, c0))
            setattr(self, f'{modality}_grdb1', GRDB(c0, c1))
            setattr(self, f'{modality}_grdb2', GRDB(c1, c2))
        self.decoder = nn.Sequential(
            ConvLReLU(2 * c2, 2 * c1), ConvLReLU(2 * c1, 2 * c0),
            ConvLReLU(2 * c0, c0))
        self.head = nn.Conv2d(c0, 1, 3, padding=1)

    def _encode(self, x: Tensor, modality: str) -> Tensor:
        x = getattr(self, f'{modality}_stem')(x)
        x = getattr(self, f'{modality}_grdb1')(x)
        return getattr(self, f'{modality}_grdb2')(x)

    def forward(self, ir: Tensor, vis_y: Tensor) -> Tensor:
        check_fusion_inputs(ir, vis_y, type(self).__name__)
        return self._dispatch(ir, vis_y)

    def _forward(self, ir: Tensor, vis_y: Tensor) -> Tensor:
        feats = torch.cat([self._encode(vis_y, 'vis'),
                           self._encode(ir, 'ir')],
                          dim=1)
        return torch.tanh(self.head(self.decoder(feats))) / 2 + 0.5
