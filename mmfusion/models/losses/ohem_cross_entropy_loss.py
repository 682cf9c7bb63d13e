# Copyright (c) mmfusion contributors. All rights reserved.
from typing import Optional

import torch
from torch import Tensor

from mmfusion.registry import MODELS


@MODELS.register_module()
class OHEMCrossEntropyLoss(torch.nn.Module):
    r"""Cross-entropy averaged over the pixels an OHEM sampler kept, the
    segmentation loss of SeAFusion's segmenter and semantic loss (the
    released ``OhemCELoss``, after BiSeNet):

    .. math::
        L = \frac{1}{|K|} \sum_{i \in K} -\log p_i(y_i), \quad
        K = \{i : -\log p_i(y_i) > -\ln 0.7\}
        \text{ or the } n_{min} \text{ hardest pixels if fewer}

    mmseg's ``OHEMPixelSampler(thresh=0.7, min_kept=n)`` selects :math:`K`
    (as 0/1 ``weight``), but its ``CrossEntropyLoss`` then divides the kept
    pixels' sum by the number of *all* pixels, which shrinks the loss (and
    the semantic gradient, so the effective :math:`\beta`) by
    :math:`|K| / N`, up to 16x with ``n_min = N / 16``. Use it in an mmseg
    head (the task config is in mmseg's scope)::

        loss_decode=dict(type='mmfusion.OHEMCrossEntropyLoss')

    Without a sampler (``weight=None``) it is the mean CE over non-ignored
    pixels.

    Args:
        loss_weight: multiplier of the loss.
        loss_name: key in the head's loss dict (must start with ``loss_``).
    """

    def __init__(self, loss_weight: float = 1.0, loss_name: str = 'loss_ce'):
        super().__init__()
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def forward(self,
                cls_score: Tensor,
                label: Tensor,
                weight: Optional[Tensor] = None,
                ignore_index: int = 255,
                **kwargs) -> Tensor:
        ce = torch.nn.functional.cross_entropy(
            cls_score, label, reduction='none', ignore_index=ignore_index)
        keep = (label != ignore_index).to(ce)
        if weight is not None:
            keep = keep * weight.to(ce)
        # an empty selection gives 0 (with a gradient path), not NaN
        return self.loss_weight * (ce * keep).sum() / keep.sum().clamp(min=1)
