# Copyright (c) mmfusion contributors. All rights reserved.
import torch.nn as nn
from torch import Tensor

from mmfusion.registry import MODELS


@MODELS.register_module()
class MeanLogitGANLoss(nn.Module):
    r"""Mean-logit adversarial loss (BDLFusion's ``GANLoss('wgangp')``, with
    no gradient penalty and no weight clipping):

    .. math::
        \ell(D(x), \text{real}) = -w\,\mathrm{mean}\,D(x), \qquad
        \ell(D(x), \text{fake}) = w\,\mathrm{mean}\,D(x)

    BDLFusion's three adversarial terms (Liu et al., IJCAI 2023, ``F`` the
    fused Y, ``P`` the saliency pseudo-target of
    :class:`~mmfusion.models.SaliencyTargetLoss`):

    * discriminator side, in :math:`L_{fus}`:
      :math:`0.25(\mathrm{mean}\,D(F) - \mathrm{mean}\,D(P))` =
      ``gan(D(F), False) + gan(D(P), True)`` with ``loss_weight=0.25``;
    * fusion-net side, in :math:`L_{fus}^{up}`: :math:`-0.5\,\mathrm{mean}\,
      D(F)` = ``gan(D(F), True)`` with ``loss_weight=0.5``;
    * detection side, in :math:`L_{det}`: :math:`-0.01\,\mathrm{mean}\,D(F)`
      with ``loss_weight=0.01``.

    ``forward(logits, target_is_real)`` returns a scalar tensor.
    """

    def __init__(self, loss_weight: float = 1.0):
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, logits: Tensor, target_is_real: bool) -> Tensor:
        mean = logits.mean()
        return self.loss_weight * (-mean if target_is_real else mean)
