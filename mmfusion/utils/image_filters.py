# Copyright (c) mmfusion contributors. All rights reserved.
"""The image filters that fusion losses and fusion metrics share: the
Gaussian window, the Sobel operator and SSIM's combination of local
statistics, each defined once.

The losses (:mod:`mmfusion.models.losses`) and the metrics
(:mod:`mmfusion.evaluation.functional`) use them with their own windows,
borders and reductions; everything here is differentiable torch (the
metrics add OpenCV fast paths on CPU that give the same values on their
integer-valued images). :mod:`mmfusion.testing.numpy_reference`, the
independent oracle of the metrics, deliberately shares nothing with this
module.
"""
from typing import Callable, List, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    'gaussian_kernel1d', 'gaussian_window', 'SOBEL_X', 'SOBEL_Y', 'sobel',
    'sobel_magnitude_l1', 'ssim_maps', 'ssim'
]


# ----------------------------------------------------------------- Gaussian
def gaussian_kernel1d(size: int, sigma: float, matlab: bool = False) -> Tensor:
    """The normalised 1-D Gaussian ``g = exp(-x^2 / (2 sigma^2)) / sum``,
    ``x`` centred on the middle of ``size`` taps (float64).

    ``outer(g, g)`` is the 2-D window of SSIM, VIF and MEF-SSIM. With
    ``matlab=True`` it is checked to equal MATLAB's ``fspecial('gaussian',
    size, sigma)``, which zeroes entries below ``eps * max`` of the 2-D
    window before normalising: equal provided no entry is zeroed (true for
    every window the metrics use), otherwise ``ValueError``.
    """
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.
    g = np.exp(-(x * x) / (2. * sigma * sigma))
    if matlab:
        h = np.outer(g, g)
        if (h < np.finfo(np.float64).eps * h.max()).any():
            raise ValueError(f'the {size}x{size} Gaussian window (sigma='
                             f'{sigma}) is not separable after MATLAB '
                             'truncation')
    return torch.from_numpy(g / g.sum())


def gaussian_window(size: int = 11, sigma: float = 1.5) -> Tensor:
    """The normalised 2-D Gaussian ``(size, size)`` (float32), the outer
    product of :func:`gaussian_kernel1d` with itself; ``size`` odd, so that
    it is centred on the middle tap."""
    if size % 2 != 1:
        raise ValueError(f'the Gaussian window size must be odd, got {size}')
    g = gaussian_kernel1d(size, sigma)
    return torch.outer(g, g).float()


# -------------------------------------------------------------------- Sobel
# Cross-correlation kernels (``F.conv2d`` does not flip), as in the fusion
# literature's PyTorch code: x responds to a left-right change, y = x^T.
# (:func:`sobel` computes them separably; fusion nets initialise learnable
# Sobel layers with them.)
SOBEL_X = torch.tensor([[-1., 0., 1.], [-2., 0., 2.], [-1., 0., 1.]])
SOBEL_Y = SOBEL_X.t().contiguous()


def sobel(x: Tensor, padding: str = 'zeros') -> tuple:
    """3x3 Sobel responses ``(d/dx, d/dy)`` of every ``(H, W)`` plane of
    ``x (..., H, W)``, 'same' size: the correlations with :data:`SOBEL_X`
    and :data:`SOBEL_Y`, i.e. ``d/dx`` the ``[-1, 0, 1]`` difference along W
    of the ``[1, 2, 1]`` smoothing along H (``d/dy`` transposed).

    ``padding``: ``'zeros'`` or ``'reflect'`` (mirror without repeating the
    edge). Computed separably by shifted additions: exact for integer-valued
    images in float32 (no FFT/TF32 convolution algorithm), in the input's
    dtype under autocast, differentiable.
    """
    if padding not in ('zeros', 'reflect'):
        raise ValueError(f"padding must be 'zeros' or 'reflect', got "
                         f'{padding!r}')
    if padding == 'zeros':
        xp = F.pad(x, (1, 1, 1, 1))
    else:
        xp = F.pad(
            x.reshape(-1, 1, *x.shape[-2:]), (1, 1, 1, 1),
            mode='reflect').reshape(*x.shape[:-2],
                                    *(n + 2 for n in x.shape[-2:]))
    s = xp[..., :-2, :] + 2 * xp[..., 1:-1, :] + xp[..., 2:, :]
    dx = s[..., :, 2:] - s[..., :, :-2]
    s = xp[..., :, :-2] + 2 * xp[..., :, 1:-1] + xp[..., :, 2:]
    return dx, s[..., 2:, :] - s[..., :-2, :]


def sobel_magnitude_l1(x: Tensor) -> Tensor:
    """``|S_x x| + |S_y x|`` (zero padding) — the gradient magnitude of
    SeAFusion's texture loss."""
    gx, gy = sobel(x)
    return gx.abs() + gy.abs()


# --------------------------------------------------------------------- SSIM
def ssim_maps(x: Tensor,
              ys: Sequence[Tensor],
              local_mean: Callable[[Tensor], Tensor],
              c1: float,
              c2: float,
              cov_norm: float = 1.) -> List[Tensor]:
    r"""SSIM maps of ``x`` against each of ``ys`` (Wang et al., TIP 2004):

    .. math::
        S = \frac{(2\mu_x\mu_y + C_1)(2\sigma_{xy} + C_2)}
        {(\mu_x^2 + \mu_y^2 + C_1)(\sigma_x^2 + \sigma_y^2 + C_2)}

    with the local statistics that ``local_mean`` (the window: Gaussian,
    box; 'same' or 'valid') gives: :math:`\mu = E[x]`,
    :math:`\sigma_x^2 = (E[x^2] - \mu_x^2) \cdot` ``cov_norm``,
    :math:`\sigma_{xy} = (E[xy] - \mu_x\mu_y) \cdot` ``cov_norm``
    (``cov_norm = n / (n - 1)``: sample covariances). The statistics of
    ``x`` are computed once for all ``ys``. In scikit-image's order of
    operations (the metric reproduces its float32 rounding); in place where
    no gradient is recorded.
    """
    grad = torch.is_grad_enabled() and (x.requires_grad or any(y.requires_grad
                                                               for y in ys))
    if grad:
        sub, mul, add = torch.sub, torch.mul, torch.add
    else:
        sub, mul, add = Tensor.sub_, Tensor.mul_, Tensor.add_

    def norm(v):
        return v if cov_norm == 1. else mul(v, cov_norm)

    ux = local_mean(x)
    uxux = ux * ux
    vx = norm(sub(local_mean(x * x), uxux))
    ux2 = 2 * ux
    maps = []
    for y in ys:
        uy = local_mean(y)
        uyuy = uy * uy
        vy = norm(sub(local_mean(y * y), uyuy))
        vxy = norm(sub(local_mean(x * y), ux * uy))
        a1 = add(mul(uy, ux2), c1)
        a2 = add(mul(vxy, 2), c2)
        b1 = add(add(uyuy, uxux), c1)
        b2 = add(add(vy, vx), c2)
        maps.append(
            a1.mul(a2).div(b1.mul(b2)) if grad else a1.mul_(a2).
            div_(b1.mul_(b2)))
    return maps


def ssim(img1: Tensor,
         img2: Tensor,
         window_size: int = 11,
         sigma: float = 1.5,
         data_range: float = 1.0) -> Tensor:
    r"""Mean SSIM of two ``(N, C, H, W)`` batches, per channel: the
    differentiable SSIM of fusion losses (:func:`ssim_maps`).

    Gaussian-weighted local statistics (``window_size`` odd, ``sigma``),
    zero padding of ``window_size // 2`` (the output keeps the image size),
    population (co)variances, :math:`C_1 = (0.01 L)^2`,
    :math:`C_2 = (0.03 L)^2`, ``L = data_range``, averaged over every pixel,
    channel and image. This is the SSIM of the ``pytorch_ssim`` package that
    BDLFusion's ``Fusionloss_grad2`` calls.
    """
    if img1.shape != img2.shape or img1.dim() != 4:
        raise ValueError('ssim expects two (N, C, H, W) tensors of the same '
                         f'shape, got {tuple(img1.shape)} and '
                         f'{tuple(img2.shape)}')
    c = img1.size(1)
    window = gaussian_window(window_size, sigma).to(img1)
    window = window.expand(c, 1, window_size, window_size)
    pad = window_size // 2

    def local_mean(x):
        return F.conv2d(x, window, padding=pad, groups=c)

    ssim_map, = ssim_maps(img1, [img2], local_mean, (0.01 * data_range)**2,
                          (0.03 * data_range)**2)
    return ssim_map.mean()
