# Copyright (c) mmfusion contributors. All rights reserved.
"""Sobel operators shared by fusion nets and losses."""
import torch
import torch.nn.functional as F
from torch import Tensor

# Cross-correlation kernels (``F.conv2d`` does not flip), as in the fusion
# literature's PyTorch code: x responds to a left-right change, y = x^T.
SOBEL_X = torch.tensor([[-1., 0., 1.], [-2., 0., 2.], [-1., 0., 1.]])
SOBEL_Y = SOBEL_X.t().contiguous()


def sobel_xy(x: Tensor) -> tuple:
    """Per-channel Sobel responses ``(S_x x, S_y x)``, zero padding, same size.
    """
    c = x.size(1)
    kx = SOBEL_X.to(x).expand(c, 1, 3, 3)
    ky = SOBEL_Y.to(x).expand(c, 1, 3, 3)
    return (F.conv2d(x, kx, padding=1, groups=c),
            F.conv2d(x, ky, padding=1, groups=c))


def sobel_magnitude_l1(x: Tensor) -> Tensor:
    """``|S_x x| + |S_y x|`` — the gradient magnitude of SeAFusion's texture
    loss."""
    gx, gy = sobel_xy(x)
    return gx.abs() + gy.abs()
