# Copyright (c) mmfusion contributors. All rights reserved.
"""Restormer building blocks (Zamir et al., CVPR 2022) as used by TDFusion.

Everything here is written with plain tensor operations (1x1/depthwise convs,
``matmul``, ``softmax``, ``F.layer_norm``), all of which have double-backward
formulas in PyTorch. That makes the modules usable with fast weights through
:func:`torch.func.functional_call` and lets a meta step differentiate through
their backward pass (second order), which TDFusion's loss generator needs.
Attention is *transposed* (across channels, Restormer Eq. 2): its map is
``(C/heads) x (C/heads)``, so the cost is linear in ``H * W`` and any image
size works without padding.

The order of channels produced by each conv (``q, k, v`` chunks of the qkv
conv; ``gate, value`` halves of the GDFN input projection) follows the
published TDFusion layers, so converted checkpoints compute the same function.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor


def conv1x1(in_channels: int, out_channels: int) -> nn.Conv2d:
    """Bias-free 1x1 conv."""
    return nn.Conv2d(in_channels, out_channels, 1, bias=False)


def dwconv3x3(channels: int) -> nn.Conv2d:
    """Bias-free 3x3 depthwise conv, zero padding 1."""
    return nn.Conv2d(
        channels, channels, 3, padding=1, groups=channels, bias=False)


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channels of every pixel of an ``(N, C, H, W)`` map
    (biased variance, ``eps = 1e-5``, affine weight and bias)."""

    def __init__(self, channels: int, eps: float = 1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, x.shape[-1:], self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


def transposed_attention(q: Tensor, k: Tensor, v: Tensor, num_heads: int,
                         temperature: Tensor) -> Tensor:
    r"""Channel ("transposed") attention of Restormer's MDTA, Eq. 2:

    .. math::
        \mathrm{Attn}(Q, K, V) = V \cdot \mathrm{softmax}
        (\hat K^\top \hat Q / \tau)

    computed per head on L2-normalised ``q`` and ``k`` (normalised over the
    pixels), with a learnable per-head scale ``temperature`` (shape
    ``(heads, 1, 1)``; it multiplies the logits as in the released code).

    Args:
        q, k, v: ``(N, C, H, W)`` maps; ``C`` divisible by ``num_heads``.
    Returns:
        ``(N, C, H, W)``.
    """
    n, c, h, w = q.shape
    shape = (n, num_heads, c // num_heads, h * w)
    q = F.normalize(q.reshape(shape), dim=-1)
    k = F.normalize(k.reshape(shape), dim=-1)
    attn = torch.softmax(q @ k.transpose(-2, -1) * temperature, dim=-1)
    return (attn @ v.reshape(shape)).reshape(n, c, h, w)


class MDTA(nn.Module):
    """Multi-Dconv head Transposed Attention (Restormer Eq. 2): 1x1 conv to
    ``q, k, v``, 3x3 depthwise conv, channel attention per head, 1x1
    projection. Bias-free."""

    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'MDTA: dim {dim} is not divisible by '
                             f'num_heads {num_heads}')
        self.num_heads = num_heads
        self.temperature = nn.Parameter(torch.ones(num_heads, 1, 1))
        self.qkv = conv1x1(dim, 3 * dim)
        self.qkv_dwconv = dwconv3x3(3 * dim)
        self.project_out = conv1x1(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        q, k, v = self.qkv_dwconv(self.qkv(x)).chunk(3, dim=1)
        out = transposed_attention(q, k, v, self.num_heads, self.temperature)
        return self.project_out(out)


class GDFN(nn.Module):
    """Gated-Dconv Feed-forward Network (Restormer Eq. 3):
    ``W_out (GELU(W_1 x) * W_2 x)`` where ``W_1, W_2`` are a shared 1x1 conv
    to ``2 * hidden`` channels followed by a 3x3 depthwise conv. Bias-free."""

    def __init__(self, dim: int, expansion: float = 2.0):
        super().__init__()
        hidden = int(dim * expansion)
        self.project_in = conv1x1(dim, 2 * hidden)
        self.dwconv = dwconv3x3(2 * hidden)
        self.project_out = conv1x1(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        gate, value = self.dwconv(self.project_in(x)).chunk(2, dim=1)
        return self.project_out(F.gelu(gate) * value)


class RestormerBlock(nn.Module):
    """Pre-norm transformer block ``x + MDTA(LN(x))`` then
    ``x + GDFN(LN(x))``."""

    def __init__(self, dim: int, num_heads: int, ffn_expansion: float = 2.0):
        super().__init__()
        self.norm1 = ChannelLayerNorm(dim)
        self.attn = MDTA(dim, num_heads)
        self.norm2 = ChannelLayerNorm(dim)
        self.ffn = GDFN(dim, ffn_expansion)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.ffn(self.norm2(x))
