# Copyright (c) mmfusion contributors. All rights reserved.
"""TDFusion's fusion network "ReFusion" (Bai et al., CVPR 2025, Sec. 3.2).

Two Restormer encoders (one per input), a cross-attention fusion module (AFM)
and a Restormer decoder with a sigmoid output; 59,856 parameters with the
defaults. Written with plain differentiable ops, so that
:func:`torch.func.functional_call` with fast weights and second-order
gradients (TDFusion's meta step) work without TDFusion's ``Meta*`` layers.
"""
import torch
import torch.autograd.forward_ad as fwAD
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mmfusion.registry import MODELS
from ..utils import (CompiledInferenceMixin, RestormerBlock,
                     check_fusion_inputs, conv1x1, dwconv3x3,
                     transposed_attention)
from ..utils.restormer import (BATCH_CHUNK_BYTES, attention_from_stats,
                               attention_project_nhwc, depthwise_nhwc,
                               depthwise_rows, images_per_chunk,
                               in_batch_chunks, pointwise_nhwc, row_bands,
                               split_qkv, to_nchw, to_nhwc, tracing)


class CrossAttentionFusion(nn.Module):
    r"""TDFusion's attention fusion module (AFM).

    With :math:`(q_i, k_i, v_i)` from branch :math:`i` (1x1 conv + 3x3
    depthwise conv, as in MDTA), each branch is updated with the channel
    attention of the *other* branch's queries on its own keys and values:

    .. math::
        x_1' = x_1 + P_1\,\mathrm{Attn}(q_2, k_1, v_1), \quad
        x_2' = x_2 + P_2\,\mathrm{Attn}(q_1, k_2, v_2), \quad
        u = [x_1', x_2']

    then a gated conv feed-forward with one gate per branch computed from both:

    .. math::
        [g_1, g_2] = D_E W_E u, \quad
        \mathrm{out} = u + W_{o1}(\mathrm{GELU}(g_1) \odot D_1 W_1 x_1')
                         + W_{o2}(\mathrm{GELU}(g_2) \odot D_2 W_2 x_2')

    (:math:`W` 1x1 convs, :math:`D` 3x3 depthwise convs, all bias-free). The
    output has ``2 * dim`` channels.
    """

    def __init__(self, dim: int = 16, num_heads: int = 8):
        super().__init__()
        self.num_heads = num_heads
        self.temperature1 = nn.Parameter(torch.ones(num_heads, 1, 1))
        self.temperature2 = nn.Parameter(torch.ones(num_heads, 1, 1))
        self.qkv1 = conv1x1(dim, 3 * dim)
        self.qkv1_dwconv = dwconv3x3(3 * dim)
        self.qkv2 = conv1x1(dim, 3 * dim)
        self.qkv2_dwconv = dwconv3x3(3 * dim)
        self.project_mid1 = conv1x1(dim, dim)
        self.project_mid2 = conv1x1(dim, dim)
        self.gate = conv1x1(2 * dim, 8 * dim)
        self.gate_dwconv = dwconv3x3(8 * dim)
        self.value1 = conv1x1(dim, 4 * dim)
        self.value1_dwconv = dwconv3x3(4 * dim)
        self.value2 = conv1x1(dim, 4 * dim)
        self.value2_dwconv = dwconv3x3(4 * dim)
        self.project_out1 = conv1x1(4 * dim, 2 * dim)
        self.project_out2 = conv1x1(4 * dim, 2 * dim)

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        q1, k1, v1 = self.qkv1_dwconv(self.qkv1(x1)).chunk(3, dim=1)
        q2, k2, v2 = self.qkv2_dwconv(self.qkv2(x2)).chunk(3, dim=1)
        x1 = x1 + self.project_mid1(
            transposed_attention(q2, k1, v1, self.num_heads,
                                 self.temperature1))
        x2 = x2 + self.project_mid2(
            transposed_attention(q1, k2, v2, self.num_heads,
                                 self.temperature2))
        fused = torch.cat([x1, x2], dim=1)
        g1, g2 = self.gate_dwconv(self.gate(fused)).chunk(2, dim=1)
        y1 = F.gelu(g1) * self.value1_dwconv(self.value1(x1))
        y2 = F.gelu(g2) * self.value2_dwconv(self.value2(x2))
        return fused + self.project_out1(y1) + self.project_out2(y2)

    def forward_nhwc(self, x1: Tensor, x2: Tensor) -> Tensor:
        """The module on ``(N, H, W, dim)`` maps (fast path; see
        :mod:`mmfusion.models.utils.restormer`), returns ``(N, H, W, 2
        dim)``. The gated feed-forward runs branch by branch: gate ``g_i``
        (the ``i``-th half of the gate conv's and its depthwise conv's
        output channels) and value ``D_i W_i x_i'`` are each ``4 dim``
        channels wide, never an ``8 dim`` map (see ``batch_chunk_bytes`` of
        :class:`ReFusionNet`), and each branch's output projection is an
        ``addmm`` onto the residual."""
        q1, k1, v1 = split_qkv(
            depthwise_nhwc(
                pointwise_nhwc(x1, self.qkv1.weight), self.qkv1_dwconv.weight))
        q2, k2, v2 = split_qkv(
            depthwise_nhwc(
                pointwise_nhwc(x2, self.qkv2.weight), self.qkv2_dwconv.weight))
        x1 = attention_project_nhwc(x1, q2, k1, v1, self.num_heads,
                                    self.temperature1,
                                    self.project_mid1.weight)
        x2 = attention_project_nhwc(x2, q1, k2, v2, self.num_heads,
                                    self.temperature2,
                                    self.project_mid2.weight)
        fused = torch.cat([x1, x2], dim=-1)
        c = fused.shape[-1]
        out = fused.reshape(-1, c)
        w_gate = self.gate.weight.chunk(2)
        w_gate_dw = self.gate_dwconv.weight.chunk(2)
        for i, (x, value, value_dw, proj) in enumerate(
            ((x1, self.value1, self.value1_dwconv, self.project_out1),
             (x2, self.value2, self.value2_dwconv, self.project_out2))):
            gate = depthwise_nhwc(
                pointwise_nhwc(fused, w_gate[i]), w_gate_dw[i])
            hidden = F.gelu(gate) * depthwise_nhwc(
                pointwise_nhwc(x, value.weight), value_dw.weight)
            out = torch.addmm(out, hidden.reshape(-1, hidden.shape[-1]),
                              proj.weight.flatten(1).t())
        return out.view(fused.shape)

    def forward_nhwc_tiled(self, x1: Tensor, x2: Tensor, rows: int) -> Tensor:
        """:meth:`forward_nhwc` without autograd, in bands of ``rows`` image
        rows (two passes, as :meth:`RestormerBlock.forward_nhwc_tiled`)."""
        n, h, w, c = x1.shape
        bands = row_bands(h, rows)
        gram = x1.new_zeros(2, n, c, c)  # q2^T k1, q1^T k2
        sq = x1.new_zeros(4, n, c)  # |q2|^2, |k1|^2, |q1|^2, |k2|^2
        v_all = [torch.empty_like(x1), torch.empty_like(x2)]
        for i in range(n):
            for r0, r1, a, b in bands:
                q1, k1, v1 = depthwise_rows(
                    pointwise_nhwc(x1[i:i + 1, a:b], self.qkv1.weight),
                    self.qkv1_dwconv.weight, r0, r1, a).reshape(-1,
                                                                3 * c).chunk(
                                                                    3, dim=1)
                q2, k2, v2 = depthwise_rows(
                    pointwise_nhwc(x2[i:i + 1, a:b], self.qkv2.weight),
                    self.qkv2_dwconv.weight, r0, r1, a).reshape(-1,
                                                                3 * c).chunk(
                                                                    3, dim=1)
                gram[0, i].addmm_(q2.t(), k1)
                gram[1, i].addmm_(q1.t(), k2)
                for j, t in enumerate((q2, k1, q1, k2)):
                    sq[j, i] += t.square().sum(0)
                v_all[0][i, r0:r1].view(-1, c).copy_(v1)
                v_all[1][i, r0:r1].view(-1, c).copy_(v2)
        m_t = [
            torch.matmul(
                proj.weight.flatten(1),
                attention_from_stats(gram[j], sq[2 * j], sq[2 * j + 1],
                                     self.num_heads, temp)).transpose(1, 2)
            for j, (proj, temp) in enumerate(((self.project_mid1,
                                               self.temperature1),
                                              (self.project_mid2,
                                               self.temperature2)))
        ]
        w_dw_value = torch.cat(
            [self.value1_dwconv.weight, self.value2_dwconv.weight])
        w_out = torch.cat([
            self.project_out1.weight.flatten(1),
            self.project_out2.weight.flatten(1)
        ],
                          dim=1).t()
        out = x1.new_empty(n, h, w, 2 * c)
        for i in range(n):
            for r0, r1, a, b in bands:
                y1 = torch.addmm(x1[i, a:b].reshape(-1, c),
                                 v_all[0][i, a:b].reshape(-1, c), m_t[0][i])
                y2 = torch.addmm(x2[i, a:b].reshape(-1, c),
                                 v_all[1][i, a:b].reshape(-1, c), m_t[1][i])
                fused = torch.cat([y1, y2], dim=1).view(1, b - a, w, 2 * c)
                gate = depthwise_rows(
                    pointwise_nhwc(fused, self.gate.weight),
                    self.gate_dwconv.weight, r0, r1, a)
                value = depthwise_rows(
                    torch.cat([
                        pointwise_nhwc(y1, self.value1.weight),
                        pointwise_nhwc(y2, self.value2.weight)
                    ],
                              dim=1).view(1, b - a, w, -1), w_dw_value, r0, r1,
                    a)
                hidden = F.gelu(gate).mul_(value)
                torch.addmm(
                    fused[:, r0 - a:r1 - a].reshape(-1, 2 * c),
                    hidden.reshape(-1, hidden.shape[-1]),
                    w_out,
                    out=out[i, r0:r1].view(-1, 2 * c))
        return out


class RestormerEncoder(nn.Module):
    """Bias-free 3x3 conv ``1 -> dim`` followed by ``num_blocks`` Restormer
    blocks; the per-modality stem shared by ReFusion and its loss
    generator."""

    def __init__(self,
                 dim: int,
                 num_blocks: int,
                 num_heads: int,
                 ffn_expansion: float,
                 fast: bool = True):
        super().__init__()
        self.stem = nn.Conv2d(1, dim, 3, padding=1, bias=False)
        self.blocks = nn.Sequential(*[
            RestormerBlock(dim, num_heads, ffn_expansion, fast=fast)
            for _ in range(num_blocks)
        ])

    def forward(self, x: Tensor) -> Tensor:
        return self.blocks(self.stem(x))

    def forward_nhwc(self, x: Tensor, rows: int = 0) -> Tensor:
        """``(N, 1, H, W)`` image -> ``(N, H, W, dim)`` features (fast
        path: the stem's output is channels-last from the start)."""
        return self.blocks_nhwc(to_nhwc(self.stem(channels_last(x))), rows)

    def blocks_nhwc(self, x: Tensor, rows: int = 0) -> Tensor:
        """The blocks on an ``(N, H, W, dim)`` map; ``rows > 0``: band-tiled
        without autograd (:meth:`RestormerBlock.forward_nhwc_tiled`)."""
        for block in self.blocks:
            x = block.forward_nhwc_tiled(x, rows) if rows else \
                block.forward_nhwc(x)
        return x


def channels_last(x: Tensor) -> Tensor:
    """A one-channel ``(N, 1, H, W)`` image with channels-last strides (same
    memory), so that a conv on it returns a channels-last map."""
    return x.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2)


@MODELS.register_module()
class ReFusionNet(CompiledInferenceMixin, BaseModule):
    """TDFusion's fusion network F ("ReFusion").

    Per input: 3x3 conv ``1 -> dim`` and ``num_blocks`` Restormer blocks
    (``dim`` channels, ``num_heads`` heads, GDFN expansion ``ffn_expansion``);
    :class:`CrossAttentionFusion` to ``2 * dim`` channels; ``num_blocks``
    Restormer blocks at ``2 * dim``; 3x3 conv ``2 dim -> dim``, LeakyReLU
    (0.01), 3x3 conv ``dim -> 1``, sigmoid. All layers bias-free except the
    LayerNorms. 59,856 parameters with the defaults.

    ``forward(ir, vis_y)`` takes two ``(N, 1, H, W)`` images in [0, 1] (any
    size: every layer is stride 1 and attention runs across channels) and
    returns the fused Y in [0, 1]. The first input goes through the first
    encoder: TDFusion's modality-swap augmentation simply calls the net with
    the inputs swapped.

    ``fast=True`` (default) runs the channels-last fast path
    (:mod:`mmfusion.models.utils.restormer`: the same function within float
    rounding; on one CPU core ~2x faster than the released implementation
    and ~1.6x faster than the layer-by-layer formulation, forward and
    backward, see ``docs/benchmarks.md``); ``fast=False`` the plain
    formulation. Both have
    the same parameters and state-dict keys, and both support
    ``functional_call``, double backward and ``torch.func.jvp``.

    ``tile_pixels`` (default 8192; 0 turns it off): forwards without
    autograd on CPU (``torch.no_grad()``, or frozen weights and inputs)
    run the fast path in bands of ``max(1, tile_pixels // W)`` image rows,
    two passes per block (the attention's sums over all pixels, then the
    rest band by band; :meth:`RestormerBlock.forward_nhwc_tiled`): every
    intermediate is band-sized and stays in cache instead of a full-image
    tensor the allocator maps and page-faults in anew for every op. Same
    output within float rounding (~5e-7 at 640 x 480); 2.2-2.6x faster
    than the untiled fast path on one core, see ``docs/benchmarks.md``.
    Autograd, forward-mode AD, ``torch.func`` transforms, ``torch.compile``
    and ONNX export take the untiled path.

    ``batch_chunk_bytes`` (default 32 MiB; 0 turns it off): other forwards
    of the fast path on CPU (training, the meta step's transforms, untiled
    inference) run the batch in chunks of images whose widest intermediate
    map (the decoder's qkv, ``6 dim`` channels) stays below it -- one
    256 x 256 training crop per chunk by default. glibc maps a block of
    32 MiB or more afresh (unless a free heap block fits) and unmaps it on
    free, so whole-batch maps are page-faulted in again and again; below
    it, freed memory is reused. Same function: every op is per image. In
    ``tools/train.py configs/tdfusion/segformer_msrs.py`` (published sizes,
    1 thread, medians of 4 noisy runs) the meta step took 10.5 instead of
    11.9 s and the fusion + task step 3.7 instead of 4.2 s
    (``docs/benchmarks.md``).

    ``compile_inference=True`` runs no-grad forwards through
    ``torch.compile`` (see :mod:`mmfusion.models.utils.inference`); it
    compiles the untiled fast path, which on CPU is slower than the default
    tiled eager path (see ``docs/benchmarks.md``): leave it off there.
    Training, fast weights and double backward always run eagerly.
    """

    def __init__(self,
                 dim: int = 16,
                 num_blocks: int = 2,
                 num_heads: int = 8,
                 ffn_expansion: float = 2.0,
                 compile_inference: bool = False,
                 fast: bool = True,
                 tile_pixels: int = 8192,
                 batch_chunk_bytes: int = BATCH_CHUNK_BYTES,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.compile_inference = compile_inference
        self.fast = fast
        self.tile_pixels = tile_pixels
        if batch_chunk_bytes < 0:
            raise ValueError('ReFusionNet: batch_chunk_bytes must be >= 0 '
                             f'(0: no chunks), got {batch_chunk_bytes}')
        self.batch_chunk_bytes = batch_chunk_bytes
        # channels of the widest map of the fast path: the decoder's qkv
        # (3 x 2 dim), its GDFN gate/value (2 dim x expansion each) or the
        # fusion module's gate/value of one branch (4 dim)
        self._widest = max(6 * dim, int(2 * dim * ffn_expansion), 4 * dim)
        self.encoder1 = RestormerEncoder(dim, num_blocks, num_heads,
                                         ffn_expansion, fast)
        self.encoder2 = RestormerEncoder(dim, num_blocks, num_heads,
                                         ffn_expansion, fast)
        self.fusion = CrossAttentionFusion(dim, num_heads)
        self.decoder = nn.Sequential(*[
            RestormerBlock(2 * dim, num_heads, ffn_expansion, fast=fast)
            for _ in range(num_blocks)
        ])
        self.head_conv1 = nn.Conv2d(2 * dim, dim, 3, padding=1, bias=False)
        self.head_conv2 = nn.Conv2d(dim, 1, 3, padding=1, bias=False)

    def forward(self, ir: Tensor, vis_y: Tensor) -> Tensor:
        check_fusion_inputs(ir, vis_y, type(self).__name__)
        return self._dispatch(ir, vis_y)

    def _forward(self, ir: Tensor, vis_y: Tensor) -> Tensor:
        rows = self._tile_rows(ir)
        if rows:
            x = self.fusion.forward_nhwc_tiled(
                self.encoder1.forward_nhwc(ir, rows),
                self.encoder2.forward_nhwc(vis_y, rows), rows)
            for block in self.decoder:
                x = block.forward_nhwc_tiled(x, rows)
            return self._head(to_nchw(x))
        return in_batch_chunks(self._forward_untiled, ir, vis_y,
                               self._chunk_images(ir))

    def _forward_untiled(self, ir: Tensor, vis_y: Tensor) -> Tensor:
        if self.fast:
            x = self.fusion.forward_nhwc(
                self.encoder1.forward_nhwc(ir),
                self.encoder2.forward_nhwc(vis_y))
            for block in self.decoder:
                x = block.forward_nhwc(x)
            x = to_nchw(x)  # channels-last: the head convs stay so
        else:
            x = self.decoder(
                self.fusion(self.encoder1(ir), self.encoder2(vis_y)))
        return self._head(x)

    def _head(self, x: Tensor) -> Tensor:
        x = F.leaky_relu(self.head_conv1(x), 0.01)
        # one channel: channels-last and contiguous are the same memory
        return torch.sigmoid(self.head_conv2(x)).contiguous()

    def _chunk_images(self, x: Tensor) -> int:
        """Images per chunk of a forward of the untiled fast path (autograd,
        forward-mode, ``torch.func``, autocast or ``tile_pixels=0``): see
        :func:`~mmfusion.models.utils.restormer.images_per_chunk`; the
        whole batch with ``fast=False``."""
        return images_per_chunk(x, self._widest, self.batch_chunk_bytes) \
            if self.fast else x.shape[0]

    def _tile_rows(self, x: Tensor) -> int:
        """Rows per band of the tiled inference, 0 where it does not apply:
        it needs ``fast`` and ``tile_pixels``, a CPU tensor, no autograd
        (no grad mode, or nothing requiring grad), no forward-mode AD or
        ``torch.func`` transform, no autocast (the bands write into
        preallocated float buffers; autocast runs the untiled path), and no
        tracing (``torch.compile``, ONNX export, ``torch.jit``)."""
        if not (self.fast and self.tile_pixels) or x.device.type != 'cpu':
            return 0
        if torch.is_autocast_enabled('cpu'):
            return 0
        if tracing() or \
                torch._C._functorch.maybe_current_level() is not None:
            return 0
        grad = torch.is_grad_enabled()
        for t in (x, *self.parameters()):
            if (grad and t.requires_grad) or \
                    fwAD.unpack_dual(t).tangent is not None:
                return 0
        return max(1, self.tile_pixels // x.shape[-1])
