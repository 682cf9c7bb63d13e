# Copyright (c) mmfusion contributors. All rights reserved.
"""Histogram-contrast visual saliency (VSM) and the saliency weight map of
BDLFusion's pseudo-target.

BDLFusion (and SegMiF) train against ``P = m * IR + (1 - m) * Y_vis`` where
``m`` is a "saliency weight map calculated by VSM", the visual saliency map of
Ma et al., "Infrared and visible image fusion based on visual saliency map
and weighted least square optimization", Infrared Physics & Technology 82
(2017): the saliency of a pixel is its summed intensity contrast to every
other pixel of the image, computed from the 256-bin histogram,

    V(p) = sum_j H(j) |I_p - j|,

normalised to [0, 1], and the two saliency maps give the weight
``m = 0.5 + 0.5 (V_ir - V_vis)`` (their base-layer weight). The authors
distribute precomputed maps; computing them on the fly needs no extra files
and follows crops and flips automatically.
"""
import torch
from torch import Tensor

SALIENCY_MODES = ('vsm_weight', 'ir_vsm')


def vsm_saliency(img: Tensor, levels: int = 256) -> Tensor:
    """Visual saliency map of each image of an ``(N, 1, H, W)`` batch in
    [0, 1], min-max normalised to [0, 1] per image (0 for a flat image).

    Intensities are quantised to ``levels`` grey levels (rounded); the cost is
    one ``levels x levels`` table per image, independent of the image size.
    Not differentiable (it is a training target).
    """
    if img.dim() != 4 or img.size(1) != 1:
        raise ValueError('vsm_saliency expects an (N, 1, H, W) batch, got '
                         f'{tuple(img.shape)}')
    n = img.size(0)
    # fp32 also under autocast: the histogram-contrast table reaches
    # H * W * 255 (4.9e6 at 160 x 120), far above float16's 65504, and
    # bf16's 8-bit mantissa would round the counts
    with torch.no_grad(), torch.autocast(img.device.type, enabled=False):
        q = (img.detach().float().clamp(0, 1) * (levels - 1)).round().long()
        q = q.flatten(1)
        hist = torch.zeros(n, levels, device=img.device)
        hist.scatter_add_(1, q, torch.ones_like(q, dtype=hist.dtype))
        grey = torch.arange(levels, device=img.device, dtype=hist.dtype)
        contrast = (grey[:, None] - grey[None, :]).abs()  # (L, L)
        table = hist @ contrast  # (N, L): V for every grey level
        sal = torch.gather(table, 1, q)
        lo = sal.min(1, keepdim=True)[0]
        hi = sal.max(1, keepdim=True)[0]
        sal = (sal - lo) / (hi - lo).clamp_min(1e-12)
    return sal.view_as(img).to(img.dtype)


def saliency_weight_map(ir: Tensor,
                        vis_y: Tensor,
                        mode: str = 'vsm_weight') -> Tensor:
    """Per-pixel weight ``m`` of the IR image in BDLFusion's pseudo-target.

    Args:
        mode: ``'vsm_weight'`` (default): ``0.5 + 0.5 (V_ir - V_vis)``, Ma et
            al.'s VSM weight map; ``'ir_vsm'``: ``V_ir`` alone.
    """
    if mode == 'vsm_weight':
        return 0.5 + 0.5 * (vsm_saliency(ir) - vsm_saliency(vis_y))
    if mode == 'ir_vsm':
        return vsm_saliency(ir)
    raise ValueError(f"unknown saliency mode {mode!r}; use 'vsm_weight' or "
                     "'ir_vsm'")
