# Copyright (c) mmfusion contributors. All rights reserved.
"""TarDAL's training losses (Liu et al., CVPR 2022; the released v1.0 code,
``pipeline/fuse.py``): the content ("source") loss, an MS-SSIM + L1 mix to
both inputs; the Sobel gradient magnitude the detail critic judges; the
WGAN-div gradient penalty of both critics."""
from typing import Dict, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmfusion.registry import MODELS


def _gaussian_1d(size: int, sigma: float) -> Tensor:
    coords = torch.arange(size, dtype=torch.float64) - size // 2
    g = torch.exp(-coords**2 / (2 * sigma**2))
    return g / g.sum()


@MODELS.register_module()
class MSSSIML1Loss(nn.Module):
    r"""The MS-SSIM + L1 mix of Zhao et al. (2017) as kornia's
    ``MS_SSIMLoss`` computes it (TarDAL's ``src_fn: v1``):

    .. math::
        L = c\,\big(\alpha\,(1 - l_M^{k} \textstyle\prod_s cs_s^{k}) +
        (1 - \alpha)\, G_{\sigma_M} * |x - y| / R\big)

    "Multi-scale" is one Gaussian per sigma (0.5, 1, 2, 4, 8), all at full
    resolution, window ``4 sigma_M + 1`` = 33 taps, zero padding
    ``2 sigma_M``; :math:`l_M` the luminance at the coarsest sigma;
    :math:`c` = 200 (``compensation``), :math:`\alpha` = 0.025, reduction
    ``'mean'`` over :math:`(N, H, W)`.

    ``copies``: the kornia releases TarDAL required (0.6.8 and later, until
    the layout was fixed) store each scale's mask three times (one per RGB
    channel) and filter a 1-channel image with all of them, so every term
    counts three times: :math:`k = 3` (default, what the released training
    computed); ``copies=1`` gives the formula as written (:math:`k = 1`).
    Inputs ``(N, 1, H, W)``.
    """

    def __init__(self,
                 sigmas: Sequence[float] = (0.5, 1.0, 2.0, 4.0, 8.0),
                 data_range: float = 1.0,
                 k: Sequence[float] = (0.01, 0.03),
                 alpha: float = 0.025,
                 compensation: float = 200.0,
                 copies: int = 3):
        super().__init__()
        self.c1 = (k[0] * data_range)**2
        self.c2 = (k[1] * data_range)**2
        self.data_range = data_range
        self.pad = int(2 * sigmas[-1])
        self.alpha = alpha
        self.compensation = compensation
        self.copies = int(copies)
        self.sigmas = tuple(float(s) for s in sigmas)
        self.size = int(4 * sigmas[-1] + 1)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        if x.shape[1] != 1 or y.shape != x.shape:
            raise ValueError('MSSSIML1Loss takes two (N, 1, H, W) images of '
                             f'the same shape, got {tuple(x.shape)} and '
                             f'{tuple(y.shape)}')
        with torch.autocast(x.device.type, enabled=False):
            dtype = torch.promote_types(x.dtype, torch.float32)
            x, y = x.to(dtype), y.to(dtype)
            # the 2-D Gaussians are outer products: filtered as a row pass
            # then a column pass (the same sums, zero padding included; the
            # 33x33 direct convolution's backward is ~6x slower on a CPU);
            # built in float64, then cast
            g = torch.stack([_gaussian_1d(self.size, s)
                             for s in self.sigmas]).to(x.device, dtype)
            n = g.size(0)
            rows = g.reshape(n, 1, 1, -1)
            cols = g.reshape(n, 1, -1, 1)

            def blur(t, scales=n):
                """(N, 1, H, W) -> (N, scales, H, W): each scale's
                Gaussian (the last ``scales`` of them), zero padding."""
                t = F.conv2d(t, rows[-scales:], padding=(0, self.pad))
                return F.conv2d(
                    t, cols[-scales:], padding=(self.pad, 0), groups=scales)

            mux, muy = blur(x), blur(y)
            mux2, muy2, muxy = mux * mux, muy * muy, mux * muy
            sx = blur(x * x) - mux2
            sy = blur(y * y) - muy2
            sxy = blur(x * y) - muxy
            lum = (2 * muxy + self.c1) / (mux2 + muy2 + self.c1)
            cs = (2 * sxy + self.c2) / (sx + sy + self.c2)
            k = self.copies
            ms_ssim = lum[:, -1].pow(k) * cs.prod(dim=1).pow(k)
            l1 = blur((x - y).abs(), 1)[:, 0]
            loss = self.alpha * (1 - ms_ssim) + \
                (1 - self.alpha) * l1 / self.data_range
            return (self.compensation * loss).mean()


@MODELS.register_module()
class TarDALContentLoss(nn.Module):
    r"""TarDAL's source loss:
    :math:`w_s\,\mathrm{mean}(w_{ir} L(F, IR) + w_{vis} L(F, VIS))` with
    :math:`L` = :class:`MSSSIML1Loss` (the released ``src_fn: v1``; each
    :math:`L` is already a mean, so the weights act through their means).

    The released code weights the two terms per pixel with information
    maps (``iqa/ir``, ``iqa/vi``: VGG-16 feature activity, precomputed with
    its own released weights); here they are constants (``ir_weight``,
    ``vis_weight``), or per-pixel maps passed as ``pixel_weights`` (a dict
    with ``'ir'`` and ``'vis'``, or ``(N, 2, H, W)``).

    Args:
        loss_weight: :math:`w_s` (released CT config: 0.8).
        ir_weight / vis_weight: the constant weights (0.5 each).
        ms_ssim: the config of the MS-SSIM + L1 loss.
        loss_name: the key of the returned term.
    """

    def __init__(self,
                 loss_weight: float = 0.8,
                 ir_weight: float = 0.5,
                 vis_weight: float = 0.5,
                 ms_ssim: Optional[dict] = None,
                 loss_name: str = 'loss_src'):
        super().__init__()
        self.loss_weight = loss_weight
        self.ir_weight = ir_weight
        self.vis_weight = vis_weight
        self.src = MSSSIML1Loss(**(ms_ssim or {}))
        self.loss_name = loss_name

    def forward(self,
                fused: Tensor,
                ir: Tensor,
                vis_y: Tensor,
                pixel_weights=None) -> Dict[str, Tensor]:
        if pixel_weights is None:
            w_ir, w_vis = self.ir_weight, self.vis_weight
        elif isinstance(pixel_weights, dict):
            w_ir, w_vis = pixel_weights['ir'], pixel_weights['vis']
        else:
            w_ir, w_vis = pixel_weights[:, :1], pixel_weights[:, 1:2]
        l_ir, l_vis = self.src(fused, ir), self.src(fused, vis_y)
        if isinstance(w_ir, Tensor) or isinstance(w_vis, Tensor):
            src = (w_ir * l_ir + w_vis * l_vis).mean()
        else:
            src = w_ir * l_ir + w_vis * l_vis
        return {self.loss_name: self.loss_weight * src}


def sobel_magnitude(x: Tensor, eps: float = 1e-8) -> Tensor:
    r""":math:`\sqrt{d_x^2 + d_y^2 + \epsilon}` of ``(N, C, H, W)`` with the
    normalised 3x3 Sobel kernels (``[[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]] /
    8`` and its transpose) and replicate padding: kornia's
    ``spatial_gradient(x, 'sobel')``, as TarDAL's ``Fuse.gradient``."""
    kx = torch.tensor([[-1., 0., 1.], [-2., 0., 2.], [-1., 0., 1.]],
                      dtype=x.dtype,
                      device=x.device) / 8
    kernel = torch.stack([kx, kx.t()]).unsqueeze(1)  # (2, 1, 3, 3)
    n, c, h, w = x.shape
    padded = F.pad(x.reshape(n * c, 1, h, w), (1, 1, 1, 1), mode='replicate')
    d = F.conv2d(padded, kernel).reshape(n, c, 2, h, w)
    return torch.sqrt(d[:, :, 0]**2 + d[:, :, 1]**2 + eps)


def wgan_div_penalty(critic: nn.Module,
                     real: Tensor,
                     fake: Tensor,
                     alpha: Tensor,
                     p: float = 6.,
                     eps: float = 1e-6) -> Tensor:
    r"""WGAN-div's gradient term (Wu et al., 2018) as TarDAL's
    ``div_loss``: :math:`\mathrm{mean}_b \lVert \nabla_{\hat x} D(\hat x) +
    \epsilon\rVert_2^p` at :math:`\hat x = \alpha\,real + (1 - \alpha)
    fake`, one :math:`\alpha` per sample (``alpha``: ``(N, 1, 1, 1)``);
    differentiable (``create_graph``) so the critic's step includes it."""
    mixed = (alpha * real + (1 - alpha) * fake).detach().requires_grad_(True)
    out = critic(mixed)
    grad, = torch.autograd.grad(
        outputs=out,
        inputs=mixed,
        grad_outputs=torch.ones_like(out),
        create_graph=True,
        retain_graph=True)
    grad = grad.reshape(grad.size(0), -1) + eps
    return grad.norm(2, dim=1).pow(p).mean()
