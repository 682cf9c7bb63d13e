# Copyright (c) mmfusion contributors. All rights reserved.
from typing import Iterable, Optional

import torch
from mmengine.dist import all_reduce
from mmengine.logging import MMLogger
from torch import Tensor


class NonFiniteGuard:
    """Keeps NaN/Inf out of the weights.

    Each update asks :meth:`ok` twice: with the loss before ``backward`` and
    with the gradients before ``step``. A non-finite value skips the update
    (never applied, gradients cleared), is counted (``skipped`` for the log),
    and after ``max_consecutive`` consecutive bad updates of the same name
    training stops with an error that says where. The decision is all-reduced
    so every DDP rank skips the same updates.
    """

    def __init__(self, max_consecutive: int = 10):
        self.max_consecutive = max_consecutive
        self.skipped = 0
        self._consecutive = {}

    @staticmethod
    def _all_finite(tensors: Iterable[Optional[Tensor]]) -> bool:
        flags = [torch.isfinite(t).all() for t in tensors if t is not None]
        if not flags:
            return True
        flag = torch.stack(flags).all().float()
        all_reduce(flag, op='min')  # no-op when not distributed
        return bool(flag.item() > 0)

    def ok(self, name: str, tensors: Iterable[Optional[Tensor]]) -> bool:
        if self._all_finite(tensors):
            self._consecutive[name] = 0
            return True
        self.skipped += 1
        n = self._consecutive.get(name, 0) + 1
        self._consecutive[name] = n
        MMLogger.get_current_instance().warning(
            f'non-finite loss or gradient in the {name} update: skipped '
            f'({n} in a row, {self.skipped} in total)')
        if n >= self.max_consecutive:
            raise FloatingPointError(
                f'{n} consecutive non-finite {name} updates: stopping. Lower '
                'the learning rate, check the data, or raise '
                '`max_consecutive_nonfinite` if this is expected.')
        return False

    def state_dict(self) -> dict:
        return dict(skipped=self.skipped, consecutive=dict(self._consecutive))

    def load_state_dict(self, state: dict) -> None:
        self.skipped = state.get('skipped', 0)
        self._consecutive = dict(state.get('consecutive', {}))
