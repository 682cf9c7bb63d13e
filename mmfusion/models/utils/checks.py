# Copyright (c) mmfusion contributors. All rights reserved.
"""Input checks shared by the fusion nets and loss generators."""
from torch import Tensor


def check_fusion_inputs(a: Tensor, b: Tensor, name: str) -> None:
    """Raise a ``ValueError`` naming ``name`` unless ``a`` and ``b`` are
    ``(N, 1, H, W)`` images of the same shape (IR and VIS-Y)."""
    for t, which in ((a, 'first'), (b, 'second')):
        if t.dim() != 4 or t.size(1) != 1:
            raise ValueError(
                f'{name} expects two (N, 1, H, W) images (IR and VIS-Y); its '
                f'{which} input has shape {tuple(t.shape)}. Pass the Y '
                'channel of the visible image, not RGB.')
    if a.shape != b.shape:
        raise ValueError(f'{name}: the two inputs differ in shape, '
                         f'{tuple(a.shape)} vs {tuple(b.shape)}')
