# Copyright (c) mmfusion contributors. All rights reserved.
"""Differentiable SSIM as used by fusion losses (Wang et al., TIP 2004)."""
import torch
import torch.nn.functional as F
from torch import Tensor


def gaussian_window(size: int = 11, sigma: float = 1.5) -> Tensor:
    """Normalised 2-D Gaussian ``(size, size)``, the outer product of a 1-D
    Gaussian centred on the middle tap."""
    x = torch.arange(size, dtype=torch.float64) - size // 2
    g = torch.exp(-x**2 / (2 * sigma**2))
    g = g / g.sum()
    return torch.outer(g, g).float()


def ssim(img1: Tensor,
         img2: Tensor,
         window_size: int = 11,
         sigma: float = 1.5,
         data_range: float = 1.0) -> Tensor:
    r"""Mean SSIM of two ``(N, C, H, W)`` batches, per channel.

    .. math::
        \mathrm{SSIM} = \frac{(2\mu_1\mu_2 + C_1)(2\sigma_{12} + C_2)}
        {(\mu_1^2 + \mu_2^2 + C_1)(\sigma_1^2 + \sigma_2^2 + C_2)}

    with Gaussian-weighted local statistics (``window_size``, ``sigma``),
    zero padding of ``window_size // 2`` (the output keeps the image size),
    :math:`C_1 = (0.01 L)^2`, :math:`C_2 = (0.03 L)^2`, ``L = data_range``,
    averaged over every pixel, channel and image. This is the SSIM of the
    ``pytorch_ssim`` package that BDLFusion's ``Fusionloss_grad2`` calls.
    """
    if img1.shape != img2.shape or img1.dim() != 4:
        raise ValueError('ssim expects two (N, C, H, W) tensors of the same '
                         f'shape, got {tuple(img1.shape)} and '
                         f'{tuple(img2.shape)}')
    c = img1.size(1)
    window = gaussian_window(window_size, sigma).to(img1)
    window = window.expand(c, 1, window_size, window_size)
    pad = window_size // 2

    def filt(x):
        return F.conv2d(x, window, padding=pad, groups=c)

    mu1, mu2 = filt(img1), filt(img2)
    mu1_sq, mu2_sq, mu12 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    var1 = filt(img1 * img1) - mu1_sq
    var2 = filt(img2 * img2) - mu2_sq
    cov = filt(img1 * img2) - mu12
    c1, c2 = (0.01 * data_range)**2, (0.03 * data_range)**2
    ssim_map = ((2 * mu12 + c1) * (2 * cov + c2)) / (
        (mu1_sq + mu2_sq + c1) * (var1 + var2 + c2))
    return ssim_map.mean()
