# Copyright (c) mmfusion contributors. All rights reserved.
"""Constant per-pixel weights in place of TDFusion's loss generator."""
from typing import Sequence

import torch
import torch.nn as nn
from torch import Tensor

from mmfusion.registry import MODELS
from ..utils import check_fusion_inputs


@MODELS.register_module()
class ConstantLossGenerator(nn.Module):
    """Fixed weights ``(w_a, w_b)`` at every pixel, with the interface of
    :class:`~mmfusion.models.TDFusionLossGenerator` (``forward(a, b)`` ->
    ``(N, 2, H, W)``) and no parameters.

    TDFusion's task-free twin (the task-gain experiment, issue 23) trains
    ReFusion on the same weighted intensity + gradient loss with these
    weights instead of learned ones; the default ``(0.5, 0.5)`` is equal
    weights that sum to 1, as the generator's softmax output does.
    """

    def __init__(self, weights: Sequence[float] = (0.5, 0.5)):
        super().__init__()
        weights = tuple(float(w) for w in weights)
        if len(weights) != 2:
            raise ValueError('ConstantLossGenerator needs two weights '
                             f'(w_a, w_b), got {weights!r}')
        self.weights = weights

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        check_fusion_inputs(a, b, type(self).__name__)
        n, _, h, w = a.shape
        return torch.tensor(
            self.weights, dtype=a.dtype,
            device=a.device).view(1, 2, 1, 1).expand(n, 2, h, w)

    def extra_repr(self) -> str:
        return f'weights={self.weights}'
