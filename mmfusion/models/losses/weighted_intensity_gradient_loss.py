# Copyright (c) mmfusion contributors. All rights reserved.
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmfusion.registry import MODELS
from mmfusion.utils.image_filters import sobel


def signed_max_abs(a: Tensor, b: Tensor) -> Tensor:
    """Element-wise the value of larger magnitude, sign kept; ``a`` wins
    ties."""
    return torch.where(a.abs() >= b.abs(), a, b)


@MODELS.register_module()
class WeightedIntensityGradientLoss(nn.Module):
    r"""TDFusion's fusion loss with learned per-pixel weights (Bai et al.,
    CVPR 2025, Eq. 4-6).

    With inputs :math:`A, B` (the two images given to the fusion net, in that
    order), fused image :math:`F` and the loss generator's weights
    :math:`w_a + w_b = 1`:

    .. math::
        L_{int}^{inside} = \mathrm{mean}\big((w_a (A - F))^2\big)
                         + \mathrm{mean}\big((w_b (B - F))^2\big)

        L_{int}^{outside} = \mathrm{mean}\big(w_a (A - F)^2\big)
                          + \mathrm{mean}\big(w_b (B - F)^2\big)

        L_{grad} = \mathrm{mean}|S_x F - S_x^{max}|
                 + \mathrm{mean}|S_y F - S_y^{max}|

    where :math:`S_x^{max}` keeps, per pixel, the *signed* Sobel response of
    :math:`A` or :math:`B` with the larger magnitude (:math:`A` on ties; zero
    padding), and likewise for :math:`y`. Means run over all pixels of the
    batch. ``L_f = int_weight * L_int + grad_weight * L_grad``.

    ``weight_position`` chooses the intensity term. The default ``'inside'``
    squares the weight, as TDFusion's released training code (``utils.py``)
    and its released checkpoints do; ``'outside'`` is the paper's
    :math:`\sum_k w_k (F - I_k)^2`.

    ``forward(fused, ir, vis_y, pixel_weights=...)`` returns
    ``{'loss_int', 'loss_grad'}``, already weighted. ``pixel_weights`` is the
    ``(N, 2, H, W)`` output of
    :class:`~mmfusion.models.TDFusionLossGenerator` (channel 0 weights
    ``ir``, i.e. the first input); ``None`` is an error unless
    ``default_weights`` is set, which then gives the constant weights
    ``(w_a, w_b)``.
    """

    def __init__(self,
                 int_weight: float = 1.0,
                 grad_weight: float = 1.0,
                 weight_position: str = 'inside',
                 default_weights: Optional[tuple] = None):
        super().__init__()
        if weight_position not in ('inside', 'outside'):
            raise ValueError("weight_position must be 'inside' (released "
                             "code) or 'outside' (paper), got "
                             f'{weight_position!r}')
        if default_weights is not None and len(default_weights) != 2:
            raise ValueError('default_weights must be a pair (w_a, w_b), got '
                             f'{default_weights!r}')
        self.int_weight = int_weight
        self.grad_weight = grad_weight
        self.weight_position = weight_position
        self.default_weights = default_weights

    def _weights(self, pixel_weights: Optional[Tensor], ref: Tensor) -> tuple:
        if pixel_weights is None:
            if self.default_weights is None:
                raise ValueError(
                    'WeightedIntensityGradientLoss needs the per-pixel '
                    'weights of the loss generator: call it with '
                    'pixel_weights=<(N, 2, H, W) tensor>, or set '
                    'default_weights=(w_a, w_b) for fixed weights')
            return tuple(
                torch.full_like(ref, float(w)) for w in self.default_weights)
        if pixel_weights.dim() != 4 or pixel_weights.size(1) != 2 or \
                pixel_weights.shape[-2:] != ref.shape[-2:] or \
                pixel_weights.size(0) != ref.size(0):
            raise ValueError(
                'pixel_weights must be (N, 2, H, W) matching the images '
                f'{tuple(ref.shape)}, got {tuple(pixel_weights.shape)}')
        return pixel_weights[:, 0:1], pixel_weights[:, 1:2]

    def forward(self,
                fused: Tensor,
                ir: Tensor,
                vis_y: Tensor,
                pixel_weights: Optional[Tensor] = None,
                **kwargs) -> dict:
        w_a, w_b = self._weights(pixel_weights, fused)
        if self.weight_position == 'inside':
            loss_int = ((w_a * (ir - fused))**2).mean() + \
                ((w_b * (vis_y - fused))**2).mean()
        else:
            loss_int = (w_a * (ir - fused)**2).mean() + \
                (w_b * (vis_y - fused)**2).mean()
        fx, fy = sobel(fused)
        ax, ay = sobel(ir)
        bx, by = sobel(vis_y)
        loss_grad = F.l1_loss(fx, signed_max_abs(ax, bx)) + \
            F.l1_loss(fy, signed_max_abs(ay, by))
        return dict(
            loss_int=self.int_weight * loss_int,
            loss_grad=self.grad_weight * loss_grad)
