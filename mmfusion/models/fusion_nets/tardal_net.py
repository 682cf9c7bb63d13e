# Copyright (c) mmfusion contributors. All rights reserved.
"""TarDAL's fusion generator (Liu et al., CVPR 2022).

``cat(IR, VIS-Y)`` -> 3x3 conv 2->32 + BN + ReLU -> a dense block of three
3x3 conv + BN + ReLU layers, each adding 32 channels to the concatenation
(32 -> 64 -> 96 -> 128) -> 3x3 conv 128->128 + ReLU (no BN) -> 3x3 conv
128->64 + BN + ReLU -> 3x3 conv 64->32 + BN + ReLU -> 3x3 conv 32->1 + tanh.
Stride 1, zero padding 1, biases everywhere; 296,577 parameters (dim 32,
depth 3), the published ``Generator(dim=32, depth=3)`` layer for layer
(module names differ; ``mmfusion.models.utils.ckpt_convert.tardal_convert``
maps the released weights).

Two choices of the published code are options here because the released
checkpoints need them (``docs/tardal.md``):

* the BatchNorm statistics at inference (``bn_mode``): the running ones
  (``'running'``, PyTorch's eval mode) or each image's own (``'image'``, what
  the upstream ``fuse.py`` does without ``--eval``, at batch size 1);
* the output (``output``): the published net ends in ``tanh``, whose
  [-1, 1] output is used directly as a [0, 1] intensity (negative values are
  clipped by whoever turns it into an image; the training losses compare it
  with [0, 1] images as it is). ``'tanh'`` returns it so; ``'affine'``
  returns ``(tanh + 1) / 2`` (for nets trained that way; not the released
  weights' convention).
"""
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mmfusion.registry import MODELS
from ..utils import CompiledInferenceMixin, check_fusion_inputs

BN_MODES = ('running', 'image')
OUTPUT_MODES = ('tanh', 'affine')


class ConvBNReLU(nn.Module):
    """3x3 conv (stride 1, padding 1), optional BatchNorm, ReLU."""

    def __init__(self, in_channels: int, out_channels: int, bn: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.bn = nn.BatchNorm2d(out_channels) if bn else None

    def forward(self, x: Tensor, image_stats: bool = False) -> Tensor:
        x = self.conv(x)
        if self.bn is not None:
            if image_stats:
                # the statistics of each image alone: BatchNorm in training
                # mode on a batch of one (biased variance, like BN's
                # normalisation), without touching the running statistics
                x = F.instance_norm(
                    x,
                    weight=self.bn.weight,
                    bias=self.bn.bias,
                    eps=self.bn.eps)
            else:
                x = self.bn(x)
        return F.relu(x)


@MODELS.register_module()
class TarDALGenerator(CompiledInferenceMixin, BaseModule):
    """TarDAL's generator.

    Args:
        dim: base width (32 published).
        depth: layers of the dense block (3 published).
        bn_mode: which BatchNorm statistics normalise when the net is in
            eval mode (training always uses, and updates, the batch's):
            ``'running'``: the stored running statistics (PyTorch's eval
            mode; the upstream ``--eval`` path, released ``tardal+`` and
            ``tardal++``); ``'image'``: each image's own statistics, as
            BatchNorm in training mode on one image (the upstream path for
            the released ``tardal.pt``); the running statistics are never
            used nor changed then.
        input_range: ``(lo, hi)``: the [0, 1] inputs are mapped linearly to
            this range before the first conv (``(0, 1)`` published).
        output: ``'tanh'``: the tanh output as it is, in [-1, 1], used as a
            [0, 1] intensity (published; the fusion model clamps it when it
            makes images); ``'affine'``: ``(tanh + 1) / 2``, in [0, 1].
        compile_inference: run no-grad forwards through ``torch.compile``
            (see :mod:`mmfusion.models.utils.inference`).
        init_cfg: mmengine init config.

    ``forward(ir, vis_y)`` takes ``(N, 1, H, W)`` tensors in [0, 1] of any
    size and returns the fused Y ``(N, 1, H, W)``.
    """

    def __init__(self,
                 dim: int = 32,
                 depth: int = 3,
                 bn_mode: str = 'running',
                 input_range: Sequence[float] = (0., 1.),
                 output: str = 'tanh',
                 compile_inference: bool = False,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if bn_mode not in BN_MODES:
            raise ValueError(f'bn_mode must be one of {BN_MODES}, got '
                             f'{bn_mode!r}')
        if output not in OUTPUT_MODES:
            raise ValueError(f'output must be one of {OUTPUT_MODES}, got '
                             f'{output!r}')
        if len(input_range) != 2 or not input_range[0] < input_range[1]:
            raise ValueError('input_range must be (lo, hi) with lo < hi, got '
                             f'{input_range!r}')
        self.bn_mode = bn_mode
        self.input_range = (float(input_range[0]), float(input_range[1]))
        self.output = output
        self.compile_inference = compile_inference
        self.depth = depth
        self.stem = ConvBNReLU(2, dim)
        self.dense = nn.ModuleList(
            ConvBNReLU(dim * (i + 1), dim) for i in range(depth))
        self.decoder = nn.ModuleList([
            ConvBNReLU(dim * (depth + 1), dim * 4, bn=False),
            ConvBNReLU(dim * 4, dim * 2),
            ConvBNReLU(dim * 2, dim),
        ])
        self.head = nn.Conv2d(dim, 1, 3, padding=1)

    def extra_repr(self) -> str:
        # in the repr, so that exported/cached graphs tell the modes apart
        return (f'bn_mode={self.bn_mode!r}, input_range={self.input_range}, '
                f'output={self.output!r}')

    def forward(self, ir: Tensor, vis_y: Tensor) -> Tensor:
        check_fusion_inputs(ir, vis_y, type(self).__name__)
        return self._dispatch(ir, vis_y)

    def _forward(self, ir: Tensor, vis_y: Tensor) -> Tensor:
        # decided here, not in forward: exporters trace _forward alone
        image_stats = self.bn_mode == 'image' and not self.training
        x = torch.cat([ir, vis_y], dim=1)
        lo, hi = self.input_range
        if (lo, hi) != (0., 1.):
            x = x * (hi - lo) + lo
        x = self.stem(x, image_stats)
        for layer in self.dense:
            x = torch.cat([x, layer(x, image_stats)], dim=1)
        for layer in self.decoder:
            x = layer(x, image_stats)
        out = torch.tanh(self.head(x))
        if self.output == 'affine':
            out = (out + 1) / 2
        return out
