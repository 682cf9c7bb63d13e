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

Fast path (the default, ``fast=True`` on the blocks). The same maths laid out
for a CPU core (or a GPU) rather than as the paper's diagram:

* activations stay channels-last (``(N, H, W, C)`` memory) through a whole
  block and between blocks, so the layer norm over channels is a plain
  ``F.layer_norm`` over the last dimension (no permute copies), every 1x1
  conv is one matrix product over the pixels (``F.linear``) and the 3x3
  depthwise convs run on oneDNN's channels-last kernel; nothing in the
  backward has to undo a layout either;
* the channel attention never materialises normalised ``q``/``k`` or its
  per-head output: one Gram matrix ``q^T k`` over the pixels, divided by the
  two vectors of L2 norms (what ``F.normalize`` divides by), gives the
  logits; the per-head ``softmax`` maps form a block-diagonal ``C x C``
  matrix that is multiplied into the 1x1 output projection, and the block's
  output is ``x + v M^T`` in one ``baddbmm`` (residual included);
* the GDFN's output projection adds the residual in the same ``addmm``.

All of it is plain differentiable PyTorch, so double backward
(``create_graph``), forward-mode AD (``torch.func.jvp``) and
``functional_call`` with fast weights work exactly as on the plain path
(``fast=False``, the layer-by-layer formulation, kept as the reference the
tests compare against: equal within float rounding, ~1e-7).
"""
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmfusion.utils.malloc import MMAP_THRESHOLD

# default ``batch_chunk_bytes`` of the nets built from these blocks: glibc's
# largest mmap threshold, below which freed blocks are reused (see
# :mod:`mmfusion.utils.malloc`)
BATCH_CHUNK_BYTES = MMAP_THRESHOLD


def conv1x1(in_channels: int, out_channels: int) -> nn.Conv2d:
    """Bias-free 1x1 conv."""
    return nn.Conv2d(in_channels, out_channels, 1, bias=False)


def dwconv3x3(channels: int) -> nn.Conv2d:
    """Bias-free 3x3 depthwise conv, zero padding 1."""
    return nn.Conv2d(
        channels, channels, 3, padding=1, groups=channels, bias=False)


def tracing() -> bool:
    """Inside ``torch.compile``, ``torch.jit`` tracing or the ONNX export:
    the graph recorded must not depend on the eager CPU layouts (bands,
    batch chunks) chosen for the sizes at hand."""
    return (torch.compiler.is_compiling() or torch.jit.is_tracing()
            or torch.onnx.is_in_onnx_export())


def images_per_chunk(x: Tensor, widest: int, chunk_bytes: int) -> int:
    """Images per chunk of a CPU forward of ``(N, C, H, W)`` images whose
    widest intermediate map has ``widest`` channels: as many as keep that
    map below ``chunk_bytes`` (at least one). The whole batch with
    ``chunk_bytes=0``, off CPU, and under tracing, ``torch.compile`` or the
    ONNX export (their graphs keep the batch whole).

    Why: glibc maps every block of 32 MiB or more afresh and returns it on
    free, so a training step whose maps are larger page-faults all of them
    in again, every step; below it, freed memory is reused (fully with
    :func:`mmfusion.utils.malloc.keep_freed_memory`). Every op of these
    nets is per image, so chunks compute the same function."""
    n = x.shape[0]
    if not chunk_bytes or x.device.type != 'cpu' or tracing():
        return n
    per_image = x.shape[-2] * x.shape[-1] * widest * x.element_size()
    return min(n, max(1, (chunk_bytes - 1) // per_image))


def in_batch_chunks(fn: Callable, a: Tensor, b: Tensor, step: int) -> Tensor:
    """``fn(a, b)`` on chunks of ``step`` images, concatenated."""
    n = a.shape[0]
    if step >= n:
        return fn(a, b)
    return torch.cat(
        [fn(a[i:i + step], b[i:i + step]) for i in range(0, n, step)])


# ---------------------------------------------------------------------------
# channels-last helpers: ``x`` is an ``(N, H, W, C)`` tensor (contiguous in
# practice), i.e. the memory of a channels-last ``(N, C, H, W)`` map
# ---------------------------------------------------------------------------
def to_nhwc(x: Tensor) -> Tensor:
    """``(N, C, H, W)`` -> ``(N, H, W, C)`` channels-last contiguous (a view
    when ``x`` is already channels-last)."""
    return x.permute(0, 2, 3, 1).contiguous()


def to_nchw(x: Tensor) -> Tensor:
    """``(N, H, W, C)`` -> ``(N, C, H, W)`` view (channels-last strides)."""
    return x.permute(0, 3, 1, 2)


def pointwise_nhwc(x: Tensor, weight: Tensor) -> Tensor:
    """1x1 conv (bias-free, weight ``(C_out, C_in, 1, 1)``) of an ``(N, H,
    W, C_in)`` map: one matrix product over the pixels."""
    return F.linear(x, weight.flatten(1))


def depthwise_nhwc(x: Tensor, weight: Tensor) -> Tensor:
    """3x3 depthwise conv (zero padding 1, bias-free) of an ``(N, H, W, C)``
    map, on the channels-last convolution kernel; returns ``(N, H, W, C)``
    contiguous."""
    out = F.conv2d(
        x.permute(0, 3, 1, 2), weight, padding=1, groups=weight.shape[0])
    return to_nhwc(out)


def attention_matrix(q: Tensor, k: Tensor, num_heads: int,
                     temperature: Tensor) -> Tensor:
    r"""Per-head channel attention maps of :func:`transposed_attention` from
    ``(N, P, C)`` pixel-major ``q`` and ``k`` (any row stride), as one
    block-diagonal ``(N, C, C)`` matrix ``B`` with ``Attn(q, k, v) = v
    B^T`` for ``(N, P, C)`` ``v``.

    ``softmax(\hat q^T \hat k \tau)`` with L2-normalised columns equals
    ``softmax(q^T k / (|q_i| |k_j|) \tau)`` (norms clamped at 1e-12 as in
    ``F.normalize``): one Gram matrix over the pixels and two norm vectors,
    no normalised copies of ``q`` and ``k``.
    """
    gram = torch.bmm(q.transpose(1, 2), k)  # (N, C, C), all pairs
    # max(|x|, 1e-12) as F.normalize, from the sum of squares: one
    # vectorised pass over the strided view (linalg.vector_norm takes ~4x
    # longer on it); clamped before the sqrt, so a zero channel has a zero
    # gradient as there
    return attention_from_stats(gram,
                                q.square().sum(1),
                                k.square().sum(1), num_heads, temperature)


def attention_from_stats(gram: Tensor, sq_q: Tensor, sq_k: Tensor,
                         num_heads: int, temperature: Tensor) -> Tensor:
    """:func:`attention_matrix` from its pixel sums: the ``(N, C, C)`` Gram
    matrix ``q^T k`` and the ``(N, C)`` sums of squares of ``q`` and ``k``
    (what the band-tiled inference accumulates band by band)."""
    n, c, _ = gram.shape
    d = c // num_heads
    blocks = torch.diagonal(
        gram.view(n, num_heads, d, num_heads, d), dim1=1,
        dim2=3).permute(0, 3, 1, 2)
    nq = sq_q.clamp_min(1e-24).sqrt()
    nk = sq_k.clamp_min(1e-24).sqrt()
    logits = blocks / (
        nq.view(n, num_heads, d, 1) * nk.view(n, num_heads, 1, d))
    attn = torch.softmax(logits * temperature, dim=-1)
    eye = torch.eye(num_heads, dtype=attn.dtype, device=attn.device)
    return (attn.unsqueeze(3) *
            eye.view(1, num_heads, 1, num_heads, 1)).reshape(n, c, c)


def split_qkv(qkv: Tensor) -> tuple:
    """``(N, H, W, 3C)`` -> three ``(N, H*W, C)`` pixel-major views."""
    n, h, w, c3 = qkv.shape
    return qkv.view(n, h * w, c3).chunk(3, dim=-1)


def attention_project_nhwc(x: Tensor, q: Tensor, k: Tensor, v: Tensor,
                           num_heads: int, temperature: Tensor,
                           proj_weight: Tensor) -> Tensor:
    """``x + W_proj Attn(q, k, v)`` for an ``(N, H, W, C)`` map ``x`` and
    ``(N, H*W, C)`` views ``q, k, v`` (:func:`split_qkv`): the attention map
    is multiplied into the 1x1 projection and the residual added in one
    ``baddbmm``."""
    n, h, w, c = x.shape
    attn = attention_matrix(q, k, num_heads, temperature)
    # W_proj Attn = v B^T W^T = v (W B)^T
    m = torch.matmul(proj_weight.flatten(1), attn)
    return torch.baddbmm(x.reshape(n, h * w, c), v,
                         m.transpose(1, 2)).view(n, h, w, c)


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channels of every pixel of an ``(N, C, H, W)`` map
    (biased variance, ``eps = 1e-5``, affine weight and bias)."""

    def __init__(self, channels: int, eps: float = 1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        # no copy when x is channels-last
        return to_nchw(self.forward_nhwc(x.permute(0, 2, 3, 1)))

    def forward_nhwc(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, x.shape[-1:], self.weight, self.bias, self.eps)


def transposed_attention(q: Tensor, k: Tensor, v: Tensor, num_heads: int,
                         temperature: Tensor) -> Tensor:
    r"""Channel ("transposed") attention of Restormer's MDTA, Eq. 2:

    .. math::
        \mathrm{Attn}(Q, K, V) = V \cdot \mathrm{softmax}
        (\hat K^\top \hat Q / \tau)

    computed per head on L2-normalised ``q`` and ``k`` (normalised over the
    pixels), with a learnable per-head scale ``temperature`` (shape
    ``(heads, 1, 1)``; it multiplies the logits as in the released code).
    The plain (reference) formulation; the blocks' fast path computes the
    same with :func:`attention_matrix`.

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

    def residual_nhwc(self, x: Tensor, xn: Tensor) -> Tensor:
        """``x + MDTA(xn)`` on ``(N, H, W, C)`` maps (fast path)."""
        qkv = depthwise_nhwc(
            pointwise_nhwc(xn, self.qkv.weight), self.qkv_dwconv.weight)
        return attention_project_nhwc(x, *split_qkv(qkv), self.num_heads,
                                      self.temperature,
                                      self.project_out.weight)


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

    def residual_nhwc(self, x: Tensor, xn: Tensor) -> Tensor:
        """``x + GDFN(xn)`` on ``(N, H, W, C)`` maps (fast path; the
        residual is added by the output projection's ``addmm``)."""
        # gate and value computed apart (the halves of the conv weights),
        # so that each is contiguous: GELU on a strided half is ~3x slower
        w_in = self.project_in.weight.chunk(2)
        w_dw = self.dwconv.weight.chunk(2)
        gate = depthwise_nhwc(pointwise_nhwc(xn, w_in[0]), w_dw[0])
        value = depthwise_nhwc(pointwise_nhwc(xn, w_in[1]), w_dw[1])
        hidden = F.gelu(gate) * value
        c = x.shape[-1]
        out = torch.addmm(
            x.reshape(-1, c), hidden.reshape(-1, hidden.shape[-1]),
            self.project_out.weight.flatten(1).t())
        return out.view(x.shape)


class RestormerBlock(nn.Module):
    """Pre-norm transformer block ``x + MDTA(LN(x))`` then
    ``x + GDFN(LN(x))``.

    ``fast=True`` (default) runs the channels-last fast path (see the module
    docstring): ``forward`` then returns a channels-last ``(N, C, H, W)``
    view, and :meth:`forward_nhwc` chains blocks on ``(N, H, W, C)`` maps
    without any layout change. ``fast=False``: the plain layer-by-layer
    formulation (the reference). Both have the same parameters.
    """

    def __init__(self,
                 dim: int,
                 num_heads: int,
                 ffn_expansion: float = 2.0,
                 fast: bool = True):
        super().__init__()
        self.fast = fast
        self.norm1 = ChannelLayerNorm(dim)
        self.attn = MDTA(dim, num_heads)
        self.norm2 = ChannelLayerNorm(dim)
        self.ffn = GDFN(dim, ffn_expansion)

    def forward(self, x: Tensor) -> Tensor:
        if self.fast:
            return to_nchw(self.forward_nhwc(to_nhwc(x)))
        x = x + self.attn(self.norm1(x))
        return x + self.ffn(self.norm2(x))

    def forward_nhwc(self, x: Tensor) -> Tensor:
        """The block on an ``(N, H, W, C)`` map (fast path)."""
        x = self.attn.residual_nhwc(x, self.norm1.forward_nhwc(x))
        return self.ffn.residual_nhwc(x, self.norm2.forward_nhwc(x))

    def forward_nhwc_tiled(self, x: Tensor, rows: int) -> Tensor:
        """:meth:`forward_nhwc` without autograd, in bands of ``rows`` image
        rows (see :func:`row_bands`); ``x`` ``(N, H, W, C)`` contiguous."""
        n, h, w, c = x.shape
        attn, ffn = self.attn, self.ffn
        bands = row_bands(h, rows)
        gram = x.new_zeros(n, c, c)
        sq = x.new_zeros(2, n, c)
        v_all = torch.empty_like(x)
        for i in range(n):
            for r0, r1, a, b in bands:
                xn = self.norm1.forward_nhwc(x[i:i + 1, a:b])
                qkv = depthwise_rows(
                    pointwise_nhwc(xn, attn.qkv.weight),
                    attn.qkv_dwconv.weight, r0, r1, a)
                q, k, v = qkv.reshape(-1, 3 * c).chunk(3, dim=1)
                gram[i].addmm_(q.t(), k)
                sq[0, i] += q.square().sum(0)
                sq[1, i] += k.square().sum(0)
                v_all[i, r0:r1].view(-1, c).copy_(v)
        m_t = torch.matmul(
            attn.project_out.weight.flatten(1),
            attention_from_stats(gram, sq[0], sq[1], attn.num_heads,
                                 attn.temperature)).transpose(1, 2)
        w_in = ffn.project_in.weight.flatten(1).chunk(2)
        w_dw = ffn.dwconv.weight.chunk(2)
        w_out = ffn.project_out.weight.flatten(1).t()
        out = torch.empty_like(x)
        for i in range(n):
            for r0, r1, a, b in bands:
                y = torch.addmm(x[i, a:b].reshape(-1, c),
                                v_all[i, a:b].reshape(-1, c),
                                m_t[i]).view(1, b - a, w, c)
                yn = self.norm2.forward_nhwc(y)
                gate = depthwise_rows(
                    F.linear(yn, w_in[0]), w_dw[0], r0, r1, a)
                value = depthwise_rows(
                    F.linear(yn, w_in[1]), w_dw[1], r0, r1, a)
                hidden = F.gelu(gate).mul_(value)
                torch.addmm(
                    y[:, r0 - a:r1 - a].reshape(-1, c),
                    hidden.reshape(-1, hidden.shape[-1]),
                    w_out,
                    out=out[i, r0:r1].view(-1, c))
        return out


# ---------------------------------------------------------------------------
# band-tiled inference (no autograd). A block's only non-local step is the
# channel attention's reduction over all pixels, so a block runs in two
# passes over bands of image rows: pass 1 accumulates the Gram matrix and the
# sums of squares of q and k and keeps v; pass 2 applies the attention and
# runs the feed-forward band by band. Every intermediate is band-sized
# (cache-resident, reused by the allocator) instead of a full-image tensor
# streamed through memory and page-faulted in anew by every op; the halo rows
# the 3x3 depthwise convs need are recomputed.
# ---------------------------------------------------------------------------
def row_bands(height: int, rows: int) -> list:
    """``[(r0, r1, a, b)]``: the bands ``r0:r1`` of ``rows`` image rows and
    their extents ``a:b`` with one halo row on each side (clipped)."""
    return [(r0, min(r0 + rows, height), max(r0 - 1,
                                             0), min(r0 + rows + 1, height))
            for r0 in range(0, height, rows)]


def depthwise_rows(t: Tensor, weight: Tensor, r0: int, r1: int,
                   a: int) -> Tensor:
    """Rows ``r0:r1`` of the 3x3 depthwise conv (zero padding 1) of a map of
    which ``t`` (``(1, rows, W, C)``) holds rows ``a:a + rows`` -- rows
    ``r0 - 1`` to ``r1`` where they exist; returns ``(1, r1 - r0, W, C)``
    (channels-last memory)."""
    b = a + t.shape[1]
    x = t.permute(0, 3, 1, 2)
    if a == r0 - 1 and b == r1 + 1:  # both halo rows present
        out = F.conv2d(x, weight, padding=(0, 1), groups=weight.shape[0])
        return out.permute(0, 2, 3, 1)
    # at the image border: the conv's zero padding is the missing row
    out = F.conv2d(x, weight, padding=1, groups=weight.shape[0])
    return out.permute(0, 2, 3, 1)[:, r0 - a:r1 - a]
