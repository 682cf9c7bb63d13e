# Copyright (c) mmfusion contributors. All rights reserved.
"""Colour conversions and output normalisation, the single implementation used
by training, inference and the tools.

The YCbCr formulas are those of the fusion literature (SeAFusion, BDLFusion,
SegMiF; ``docs/methods.md`` §1), *not* ITU-R full-range:

* ``Y = .299 R + .587 G + .114 B``, ``Cr = .713 (R - Y) + .5``,
  ``Cb = .564 (B - Y) + .5``, each clamped to [0, 1];
* ``R = Y + 1.403 (Cr - .5)``, ``G = Y - .714 (Cr - .5) - .344 (Cb - .5)``,
  ``B = Y + 1.773 (Cb - .5)``, clamped to [0, 1].

Tensors are ``(N, C, H, W)`` floats in [0, 1]; chroma is ordered (Cb, Cr).

Colour restoration policies (:func:`restore_colour`): ``'vis'`` takes the VIS
chroma (SeAFusion, BDLFusion), ``'saturation'`` weights the chroma of both
inputs by their saturation (TDFusion), ``'gray'`` keeps no chroma,
``'vis_opencv'`` takes the VIS chroma the way OpenCV's uint8 conversions do
(TarDAL's test script; see below).

OpenCV's uint8 conversions (``cv2.cvtColor`` on 8-bit images, the
convention of scripts that read and write with OpenCV) are integer
arithmetic with rounding constants, not the formulas above:
:func:`opencv_gray` (``COLOR_BGR2GRAY``), :func:`opencv_cbcr`
(``COLOR_BGR2YCrCb``'s chroma) and :func:`opencv_ycbcr_to_rgb`
(``COLOR_YCrCb2BGR`` of a truncated uint8 Y), each equal to OpenCV's on all
2^24 colours. They take and return [0, 1] tensors holding ``k / 255``
values, and are not differentiable (inference and data preparation only).
"""
from typing import Optional

import numpy as np
import torch
from torch import Tensor


def rgb_to_ycbcr(rgb: Tensor) -> tuple:
    """Split an RGB batch ``(N, 3, H, W)`` into Y ``(N, 1, H, W)`` and CbCr
    ``(N, 2, H, W)``."""
    if rgb.dim() != 4 or rgb.size(1) != 3:
        raise ValueError(f'expected an (N, 3, H, W) RGB tensor, got '
                         f'{tuple(rgb.shape)}')
    r, g, b = rgb[:, 0:1], rgb[:, 1:2], rgb[:, 2:3]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cr = (r - y) * 0.713 + 0.5
    cb = (b - y) * 0.564 + 0.5
    return y.clamp(0, 1), torch.cat([cb, cr], dim=1).clamp(0, 1)


def ycbcr_to_rgb(y: Tensor, cbcr: Tensor) -> Tensor:
    """Recombine Y ``(N, 1, H, W)`` with CbCr ``(N, 2, H, W)`` into RGB."""
    cb, cr = cbcr[:, 0:1] - 0.5, cbcr[:, 1:2] - 0.5
    r = y + 1.403 * cr
    g = y - 0.714 * cr - 0.344 * cb
    b = y + 1.773 * cb
    return torch.cat([r, g, b], dim=1).clamp(0, 1)


COLOUR_POLICIES = ('vis', 'saturation', 'gray', 'vis_opencv')


def _to_levels(x: Tensor) -> Tensor:
    """[0, 1] values ``k / 255`` -> the integers ``k`` (int32)."""
    return (x * 255).round().to(torch.int32)


def opencv_gray(rgb: Tensor) -> Tensor:
    """``cv2.cvtColor(bgr_u8, COLOR_BGR2GRAY) / 255`` of an RGB batch
    ``(N, 3, H, W)`` of uint8 values scaled to [0, 1]: ``Y = (9798 R +
    19235 G + 3735 B + 2^14) >> 15`` (it differs from ``round(.299 R +
    .587 G + .114 B)`` for 22,411 colours)."""
    if rgb.dim() != 4 or rgb.size(1) != 3:
        raise ValueError(f'expected an (N, 3, H, W) RGB tensor, got '
                         f'{tuple(rgb.shape)}')
    r, g, b = _to_levels(rgb).unbind(1)
    y = (9798 * r + 19235 * g + 3735 * b + 16384) >> 15
    return (y.unsqueeze(1).to(rgb.dtype) / 255)


def opencv_cbcr(rgb: Tensor) -> Tensor:
    """The chroma of ``cv2.cvtColor(bgr_u8, COLOR_BGR2YCrCb)``, ordered
    (Cb, Cr) and scaled to [0, 1], of an RGB batch of uint8 values scaled
    to [0, 1]."""
    if rgb.dim() != 4 or rgb.size(1) != 3:
        raise ValueError(f'expected an (N, 3, H, W) RGB tensor, got '
                         f'{tuple(rgb.shape)}')
    r, g, b = _to_levels(rgb).unbind(1)
    y = (4899 * r + 9617 * g + 1868 * b + 8192) >> 14
    half = 128 * 16384 + 8192
    cr = (((r - y) * 11682 + half) >> 14).clamp(0, 255)
    cb = (((b - y) * 9241 + half) >> 14).clamp(0, 255)
    return torch.stack([cb, cr], dim=1).to(rgb.dtype) / 255


def opencv_ycbcr_to_rgb(y: Tensor, cbcr: Tensor) -> Tensor:
    """``cv2.cvtColor(stack([y_u8, Cr, Cb]), COLOR_YCrCb2BGR)`` as RGB in
    [0, 1], where ``y_u8 = (clamp(y, 0, 1) * 255).astype(uint8)`` (the
    truncation of the official scripts) and ``cbcr`` is
    :func:`opencv_cbcr`'s (Cb, Cr)."""
    y8 = (y.clamp(0, 1) * 255).floor().to(torch.int32)
    cb, cr = (_to_levels(cbcr) - 128).unbind(1)
    cb, cr = cb.unsqueeze(1), cr.unsqueeze(1)
    r = y8 + ((cr * 22987 + 8192) >> 14)
    g = y8 + ((cb * -5636 + cr * -11698 + 8192) >> 14)
    b = y8 + ((cb * 29049 + 8192) >> 14)
    rgb = torch.cat([r, g, b], dim=1).clamp(0, 255)
    return rgb.to(y.dtype) / 255


def saturation_weighted_chroma(cbcr_a: Tensor,
                               cbcr_b: Tensor,
                               eps: float = 1e-4 / 255) -> Tensor:
    r"""TDFusion's chroma fusion (``fuse_CrCb`` in its test script): each
    chroma channel is the average of the two sources weighted by their
    saturation :math:`|C - \frac12|`,

    .. math::
        C_f = \tfrac12 + \frac{\sum_i (C_i - \frac12)\,|C_i - \frac12|}
                             {\sum_i |C_i - \frac12| + \epsilon}.

    TDFusion applies :math:`\sum_i C_i|C_i - \frac12| / (\sum_i |C_i -
    \frac12| + 10^{-4})` to OpenCV float YCrCb of 0-255 images (offset 1/2,
    so the saturations are 255 times ours). The offset is taken out here
    before the division, which is the same up to that ``eps`` (``1e-4 / 255``
    in this scale), and keeps a pixel grey in both inputs exactly grey
    instead of pulling its chroma to 0. An input whose chroma is neutral
    everywhere contributes nothing, so a grey IR image gives the VIS chroma.

    Args:
        cbcr_a, cbcr_b: ``(N, 2, H, W)`` chroma in [0, 1].
    """
    if cbcr_a.shape != cbcr_b.shape or cbcr_a.dim() != 4 or \
            cbcr_a.size(1) != 2:
        raise ValueError('saturation_weighted_chroma expects two (N, 2, H, W) '
                         f'chroma tensors, got {tuple(cbcr_a.shape)} and '
                         f'{tuple(cbcr_b.shape)}')
    da, db = cbcr_a - 0.5, cbcr_b - 0.5
    sa, sb = da.abs(), db.abs()
    return 0.5 + (da * sa + db * sb) / (sa + sb + eps)


def restore_colour(fused_y: Tensor,
                   policy: str = 'vis',
                   vis_cbcr: Optional[Tensor] = None,
                   ir_cbcr: Optional[Tensor] = None) -> Tensor:
    """Fused RGB ``(N, 3, H, W)`` from the fused Y (clamped to [0, 1] first).

    Args:
        policy: ``'vis'``: VIS chroma; ``'saturation'``: saturation-weighted
            chroma of VIS and IR (:func:`saturation_weighted_chroma`; with a
            1-channel IR, ``ir_cbcr=None``, this is the VIS chroma, as in
            TDFusion's test script for a grey input); ``'gray'``: Y on all
            three channels; ``'vis_opencv'``: VIS chroma through OpenCV's
            uint8 ``YCrCb2BGR`` of the truncated Y
            (:func:`opencv_ycbcr_to_rgb`; ``vis_cbcr`` must be OpenCV's,
            :func:`opencv_cbcr`, as ``FusionDataPreprocessor(ycbcr=
            'opencv')`` makes it; not differentiable).
        vis_cbcr / ir_cbcr: ``(N, 2, H, W)`` chroma of the sources.
    """
    if policy not in COLOUR_POLICIES:
        raise ValueError(f'unknown colour policy {policy!r}; use one of '
                         f'{COLOUR_POLICIES}')
    fused_y = fused_y.clamp(0, 1)
    if policy == 'gray':
        return fused_y.expand(-1, 3, -1, -1)
    if vis_cbcr is None:
        raise ValueError(f'colour policy {policy!r} needs the VIS chroma '
                         '(vis_cbcr)')
    if policy == 'vis_opencv':
        return opencv_ycbcr_to_rgb(fused_y, vis_cbcr)
    cbcr = vis_cbcr
    if policy == 'saturation' and ir_cbcr is not None:
        cbcr = saturation_weighted_chroma(ir_cbcr, vis_cbcr)
    return ycbcr_to_rgb(fused_y, cbcr)


def normalize_output(img: Tensor, mode: str = 'clip') -> Tensor:
    """Bring a fused image to [0, 1].

    Args:
        img: ``(N, C, H, W)`` tensor.
        mode: ``'clip'`` clamps; ``'minmax'`` stretches each image (all its
            channels together) to [0, 1], as the official SeAFusion and
            TDFusion test scripts do (per image here, never per batch).
    """
    if mode == 'clip':
        return img.clamp(0, 1)
    if mode == 'minmax':
        flat = img.flatten(1)
        lo = flat.min(1)[0].view(-1, 1, 1, 1)
        hi = flat.max(1)[0].view(-1, 1, 1, 1)
        return (img - lo) / (hi - lo).clamp_min(1e-12)
    raise ValueError(f"unknown output normalisation {mode!r}; use 'clip' or "
                     "'minmax'")


def to_uint8(img: Tensor, rounding: str = 'round') -> np.ndarray:
    """Convert one ``(C, H, W)`` image in [0, 1] to an ``(H, W, C)`` uint8
    array (RGB order kept).

    ``rounding='floor'`` truncates like ``(x * 255).astype(np.uint8)`` in the
    official scripts; ``'round'`` rounds to nearest.
    """
    x = img.detach().float().clamp(0, 1).mul(255)
    if rounding == 'round':
        x = x.round()
    elif rounding != 'floor':
        raise ValueError(f"rounding must be 'round' or 'floor', got "
                         f'{rounding!r}')
    return x.to(torch.uint8).permute(1, 2, 0).cpu().numpy()
