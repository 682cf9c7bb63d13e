# Copyright (c) mmfusion contributors. All rights reserved.
import torch
from torch.optim import Optimizer

from mmfusion.registry import OPTIMIZERS


@OPTIMIZERS.register_module()
class MaxAbsNormSGD(Optimizer):
    r"""SGD on a gradient normalised by its largest absolute entry.

    .. math::
        \phi \leftarrow \phi - \eta \, g / \max_i |g_i|

    where the maximum runs over **all** parameters of all groups (one global
    scale), as TDFusion's outer update of the loss generator (whose
    hypergradient is ~1e-10 in magnitude, hence the normalisation). A zero
    gradient leaves the parameters unchanged.
    """

    def __init__(self, params, lr: float = 1e-4):
        if lr < 0:
            raise ValueError(f'invalid learning rate {lr}')
        super().__init__(params, dict(lr=lr))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        grads = [
            p.grad for group in self.param_groups for p in group['params']
            if p.grad is not None
        ]
        if not grads:
            return loss
        scale = torch.stack([g.abs().max() for g in grads]).max()
        if scale == 0:
            return loss
        for group in self.param_groups:
            for p in group['params']:
                if p.grad is not None:
                    p.add_(p.grad / scale, alpha=-group['lr'])
        return loss
