# Copyright (c) mmfusion contributors. All rights reserved.
"""Separable 'valid' filtering of image stacks, the workhorse of VIF, SSIM
and MEF-SSIM.

Every window the metrics use is separable (a Gaussian, a box), so a 2-D
``k x k`` correlation is done as two 1-D passes. On CUDA the passes are
``conv2d`` calls (cuDNN supports float64); on CPU, OpenCV's separable and
box filters (float32/float64; about twice as fast as shifted multiply-adds
in torch and far faster than an im2col convolution in float64), one plane at
a time. Box sums are exact for integer-valued images on both paths (the
float32 emulation of scikit-image's SSIM relies on it).

On CPU a single plane comes back as a view into OpenCV's full-size output
(no copy): 'valid' outputs are then not contiguous.
"""
from typing import Optional, Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from mmfusion.utils.image_filters import sobel

__all__ = ['filter_valid', 'box_mean_valid', 'box_sum_valid', 'sobel3']


def _pass(x: Tensor,
          weights: Sequence[float],
          dim: int,
          stride: int = 1,
          impl: str = 'auto',
          out: Optional[Tensor] = None) -> Tensor:
    """'valid' 1-D correlation along ``dim`` (-1 or -2), optionally keeping
    every ``stride``-th output: ``conv2d`` on CUDA (``impl='conv'``),
    shifted multiply-adds on CPU (``impl='shift'``), written to ``out`` when
    given."""
    k = len(weights)
    n_out = x.shape[dim] - k + 1
    if impl == 'conv' or (impl == 'auto' and x.is_cuda):
        shape = (1, 1, 1, k) if dim == -1 else (1, 1, k, 1)
        strides = (1, stride) if dim == -1 else (stride, 1)
        kernel = torch.tensor(weights, dtype=x.dtype, device=x.device)
        y = F.conv2d(
            x.reshape(-1, 1, *x.shape[-2:]),
            kernel.view(shape),
            stride=strides)
        y = y.reshape(*x.shape[:-2], *y.shape[-2:])
        return y if out is None else out.copy_(y)
    for i, w in enumerate(weights):
        view = x.narrow(dim, i, n_out)
        if stride > 1:
            view = view[..., ::stride] if dim == -1 else view[..., ::stride, :]
        if i == 0:
            if out is None:
                out = view.clone() if w == 1 else view * w
            elif w == 1:
                out.copy_(view)
            else:
                torch.mul(view, w, out=out)
        elif w == 1:
            out.add_(view)
        else:
            out.add_(view, alpha=w)
    return out


def filter_valid(x: Tensor, kernel: Tensor, stride: int = 1) -> Tensor:
    """Correlate every ``(H, W)`` plane of ``x (..., H, W)`` with the
    separable window ``outer(kernel, kernel)``, 'valid' mode (no padding),
    keeping every ``stride``-th row and column from 0.

    Output ``(..., ceil((H - k + 1) / stride), ceil((W - k + 1) / stride))``.
    On CPU every plane goes through ``cv2.sepFilter2D`` (same-size output,
    the 'valid' part taken as a view; a single plane is not copied).
    """
    k = kernel.numel()
    if x.shape[-2] < k or x.shape[-1] < k:
        raise ValueError(f'an image of {x.shape[-1]}x{x.shape[-2]} pixels is '
                         f'smaller than the {k}x{k} window of the metric')
    if x.is_cuda or x.dtype not in _CV2_DTYPES:
        weights = kernel.tolist()
        return _pass(_pass(x, weights, -1, stride), weights, -2, stride)
    kern = kernel.detach().cpu().numpy().astype(np.float64)
    r = k // 2
    h, w = x.shape[-2:]

    def one(plane):
        full = cv2.sepFilter2D(
            plane.numpy(), -1, kern, kern, borderType=cv2.BORDER_CONSTANT)
        return torch.from_numpy(full)[r:h - r:stride, r:w - r:stride]

    return _per_plane(x, one)


#: dtypes that the CPU path hands to OpenCV
_CV2_DTYPES = (torch.float32, torch.float64)


def _per_plane(x: Tensor, fn) -> Tensor:
    """``fn`` on every ``(H, W)`` plane of ``x (..., H, W)``; a single plane
    returns ``fn``'s output itself (typically a view), several are gathered
    into one tensor."""
    h, w = x.shape[-2:]
    planes = x.reshape(-1, h, w)
    if len(planes) == 1:
        out = fn(planes[0].contiguous())
        return out.reshape(*x.shape[:-2], *out.shape)  # a view
    outs = [fn(p.contiguous()) for p in planes]
    return torch.stack(outs).reshape(*x.shape[:-2], *outs[0].shape)


def _window_sum(x: Tensor, size: int, dim: int) -> Tensor:
    """Sums of ``size`` consecutive elements along ``dim`` ('valid'), by
    doubling: partial sums of 1, 2, 4, ... elements combined along the binary
    digits of ``size`` (4 additions for 7, 5 for 11, instead of 6 and 10).
    Every sum is of the same elements, so it is exact whenever those
    additions are (integers in float32, float32 values in float64)."""
    n_out = x.shape[dim] - size + 1
    powers = {1: x}
    p = 1
    while p * 2 <= size:
        prev = powers[p]
        n = prev.shape[dim] - p
        powers[p * 2] = prev.narrow(dim, 0, n) + prev.narrow(dim, p, n)
        p *= 2
    parts, offset = [], 0
    for p in sorted(powers, reverse=True):
        if size - offset >= p:
            parts.append(powers[p].narrow(dim, offset, n_out))
            offset += p
    if len(parts) == 1:
        return parts[0].clone()
    out = parts[0] + parts[1]
    for part in parts[2:]:
        out.add_(part)
    return out


def box_mean_valid(x: Tensor,
                   size: int,
                   scipy_float32: bool = False) -> Tensor:
    """Mean of every ``size x size`` window that fits in ``x (..., H, W)``.

    Sums are formed first and divided once per pass, which is exact on
    integer-valued float64 images. With ``scipy_float32`` (``x`` float32,
    integer valued) the result equals ``scipy.ndimage.uniform_filter`` on
    float32 input, the filter of scikit-image's SSIM, bit for bit in practice:
    scipy's first pass (axis 0, along H) averages in double and stores
    float32, which equals summing the integers exactly in float32 and dividing
    once; its second pass sums float32 values in double (exact here), divides
    and stores float32.
    """
    if x.shape[-2] < size or x.shape[-1] < size:
        raise ValueError(f'an image of {x.shape[-1]}x{x.shape[-2]} pixels is '
                         f'smaller than the {size}x{size} window of the '
                         'metric')
    if x.is_cuda or x.dtype not in _CV2_DTYPES:
        return _box_mean_planes(x, size, scipy_float32)
    r = size // 2
    h, w = x.shape[-2:]

    def one(plane):
        if not scipy_float32:
            full = cv2.boxFilter(
                plane.numpy(),
                -1, (size, size),
                normalize=False,
                borderType=cv2.BORDER_CONSTANT)
            return torch.from_numpy(full)[r:h - r,
                                          r:w - r].div_(float(size * size))
        # integer sums along H (exact in float32; shifted adds are faster
        # than OpenCV here), one float32 division; then float64 sums along W
        # of those float32 values (exact too: 8 values of at most 2^19 on a
        # 2^-26 grid), one division
        y = _window_sum(plane, size, -2).div_(float(size))
        row = cv2.boxFilter(
            y.numpy(),
            cv2.CV_64F, (size, 1),
            normalize=False,
            borderType=cv2.BORDER_CONSTANT)
        return torch.from_numpy(row)[:, r:w - r].div_(float(size)).float()

    return _per_plane(x, one)


def _box_mean_planes(x: Tensor, size: int, scipy_float32: bool) -> Tensor:
    if not scipy_float32:
        return _window_sum(_window_sum(x, size, -1), size,
                           -2).div_(float(size * size))
    y = _window_sum(x, size, -2).div_(float(size))
    z = _window_sum(y.double(), size, -1).div_(float(size))
    return z.float()


def box_sum_valid(x: Tensor, size: int) -> Tensor:
    """Sum over every ``size x size`` window that fits in ``x (..., H, W)``
    (doubling partial sums on CUDA, ``cv2.boxFilter`` plane by plane on CPU);
    exact for integer-valued float64 images."""
    if x.shape[-2] < size or x.shape[-1] < size:
        raise ValueError(f'an image of {x.shape[-1]}x{x.shape[-2]} pixels is '
                         f'smaller than the {size}x{size} window of the '
                         'metric')
    if x.is_cuda or x.dtype not in _CV2_DTYPES:
        return _window_sum(_window_sum(x, size, -1), size, -2)
    r = size // 2
    h, w = x.shape[-2:]

    def one(plane):
        full = cv2.boxFilter(
            plane.numpy(),
            -1, (size, size),
            normalize=False,
            borderType=cv2.BORDER_CONSTANT)
        return torch.from_numpy(full)[r:h - r, r:w - r]

    return _per_plane(x, one)


def sobel3(x: Tensor, padding: str) -> tuple:
    """:func:`mmfusion.utils.image_filters.sobel` of ``x (..., H, W)``
    (``(d/dx, d/dy)``, 'same' size, ``padding`` ``'zeros'`` or
    ``'reflect'``), by ``cv2.Sobel`` plane by plane on CPU float32/float64:
    the same values on integer-valued images (both exact), faster."""
    if x.is_cuda or x.dtype not in _CV2_DTYPES:
        return sobel(x, padding)
    if padding not in ('zeros', 'reflect'):
        raise ValueError(f"padding must be 'zeros' or 'reflect', got "
                         f'{padding!r}')
    border = (
        cv2.BORDER_CONSTANT if padding == 'zeros' else cv2.BORDER_REFLECT_101)
    return tuple(
        _per_plane(
            x,
            lambda p, d=d: torch.from_numpy(
                cv2.Sobel(
                    p.numpy(), -1, d[0], d[1], ksize=3, borderType=border)))
        for d in ((1, 0), (0, 1)))
