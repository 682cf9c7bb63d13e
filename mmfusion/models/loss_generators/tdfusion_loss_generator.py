# Copyright (c) mmfusion contributors. All rights reserved.
"""TDFusion's loss generation module G (Bai et al., CVPR 2025, Sec. 3.3)."""
import torch
import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from mmfusion.registry import MODELS
from ..fusion_nets.refusion_net import RestormerEncoder
from ..utils import RestormerBlock, check_fusion_inputs
from ..utils.restormer import (BATCH_CHUNK_BYTES, images_per_chunk,
                               in_batch_chunks, to_nchw)


@MODELS.register_module()
class TDFusionLossGenerator(BaseModule):
    r"""Per-pixel weights of TDFusion's learnable fusion loss.

    The same stem as :class:`~mmfusion.models.ReFusionNet` (per input a 3x3
    conv ``1 -> dim`` and ``num_blocks`` Restormer blocks), concatenation,
    ``num_blocks`` Restormer blocks at ``2 * dim``, 3x3 conv ``2 dim -> dim``,
    PReLU (one slope), 3x3 conv ``dim -> 2`` and a softmax over the two
    channels, so that :math:`w_a + w_b = 1` at every pixel. Bias-free convs;
    44,529 parameters with the defaults.

    ``forward(a, b)`` takes the same two ``(N, 1, H, W)`` images the fusion
    net gets (any size) and returns ``(N, 2, H, W)``: channel 0 weights the
    first input (``w_a``), channel 1 the second (``w_b``), for
    :class:`~mmfusion.models.WeightedIntensityGradientLoss`.

    ``fast``: the channels-last fast path of the Restormer blocks (default;
    see :class:`~mmfusion.models.ReFusionNet`) or the plain formulation.
    ``batch_chunk_bytes``: on CPU the fast path runs the batch in chunks of
    images whose widest map stays below it, as ReFusionNet's.
    """

    def __init__(self,
                 dim: int = 16,
                 num_blocks: int = 2,
                 num_heads: int = 8,
                 ffn_expansion: float = 2.0,
                 fast: bool = True,
                 batch_chunk_bytes: int = BATCH_CHUNK_BYTES,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.fast = fast
        if batch_chunk_bytes < 0:
            raise ValueError(
                'TDFusionLossGenerator: batch_chunk_bytes must '
                f'be >= 0 (0: no chunks), got {batch_chunk_bytes}')
        self.batch_chunk_bytes = batch_chunk_bytes
        # the joint blocks' qkv (3 x 2 dim) or GDFN gate/value maps
        self._widest = max(6 * dim, int(2 * dim * ffn_expansion))
        self.encoder1 = RestormerEncoder(dim, num_blocks, num_heads,
                                         ffn_expansion, fast)
        self.encoder2 = RestormerEncoder(dim, num_blocks, num_heads,
                                         ffn_expansion, fast)
        self.joint = nn.Sequential(*[
            RestormerBlock(2 * dim, num_heads, ffn_expansion, fast=fast)
            for _ in range(num_blocks)
        ])
        self.head_conv1 = nn.Conv2d(2 * dim, dim, 3, padding=1, bias=False)
        self.head_act = nn.PReLU()
        self.head_conv2 = nn.Conv2d(dim, 2, 3, padding=1, bias=False)

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        check_fusion_inputs(a, b, type(self).__name__)
        step = images_per_chunk(a, self._widest, self.batch_chunk_bytes) \
            if self.fast else a.shape[0]
        return in_batch_chunks(self._forward, a, b, step)

    def _forward(self, a: Tensor, b: Tensor) -> Tensor:
        if self.fast:
            x = torch.cat(
                [self.encoder1.forward_nhwc(a),
                 self.encoder2.forward_nhwc(b)],
                dim=-1)
            for block in self.joint:
                x = block.forward_nhwc(x)
            x = to_nchw(x)
        else:
            x = self.joint(
                torch.cat(
                    [self.encoder1(a), self.encoder2(b)], dim=1))
        x = self.head_act(self.head_conv1(x))
        return torch.softmax(self.head_conv2(x), dim=1).contiguous()
