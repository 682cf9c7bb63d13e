# Copyright (c) mmfusion contributors. All rights reserved.
from typing import Dict, Iterable, List, Optional, Sequence

import torch
from mmengine.dist import all_reduce
from mmengine.logging import MMLogger
from torch import Tensor


class BufferSnapshot:
    """A copy of a module's buffers (BatchNorm running statistics and
    counters, ...), to put back when an update is skipped.

    The forward pass of a training step updates running statistics before
    the step's loss and gradients are known; a step that is then skipped
    for a non-finite value must not keep them.

    Args:
        module: the model whose buffers are copied.
        exclude: names of children whose buffers are left out.
    """

    def __init__(self, module: torch.nn.Module, exclude: Sequence[str] = ()):
        prefixes = tuple(f'{name}.' for name in exclude)
        self._live: Dict[str, Tensor] = {
            name: buf
            for name, buf in module.named_buffers()
            if buf is not None and not name.startswith(prefixes)
        }
        self._saved = {
            name: buf.detach().clone()
            for name, buf in self._live.items()
        }

    def restore(self) -> None:
        """Copy the saved values back, in place (optimisers, DDP wrappers
        and views keep pointing at the same tensors)."""
        with torch.no_grad():
            for name, buf in self._live.items():
                buf.copy_(self._saved[name])

    def new_values(self) -> List[Tensor]:
        """The current floating-point buffers, where they were finite when
        the snapshot was taken (a buffer that holds ``-inf`` by design, e.g.
        an attention mask, is not a non-finite update)."""
        out = []
        for name, buf in self._live.items():
            if not buf.is_floating_point():
                continue
            before = self._saved[name]
            out.append(
                torch.where(
                    torch.isfinite(before), buf, torch.zeros_like(buf)))
        return out


class NonFiniteGuard:
    """Keeps NaN/Inf out of the weights and buffers.

    Each update (a name such as ``'fusion'`` or ``'task'``) asks :meth:`ok`
    with its loss and the buffers its forward pass moved before
    ``backward``, and with its gradients before ``step``. A non-finite
    value skips the update (never applied, gradients cleared, buffers put
    back by the caller), is counted (``skipped`` for the log), and training
    stops with an error that says where

    * after ``max_consecutive`` consecutive skips of the same update, or
    * when more than ``budget`` (a fraction) of an update's attempts were
      skipped: checked at every skip once the update was attempted
      ``min_updates`` times, and at the end of training
      (:meth:`check_budget` with ``final=True``) whatever the count, so a
      run that skipped (nearly) every step never ends as if it had trained.

    Every decision is all-reduced so all DDP ranks skip the same updates.
    """

    def __init__(self,
                 max_consecutive: int = 10,
                 budget: Optional[float] = 0.1,
                 min_updates: int = 100):
        if budget is not None and not 0 <= budget < 1:
            raise ValueError('the non-finite budget is a fraction of the '
                             f'updates in [0, 1), got {budget!r}')
        self.max_consecutive = max_consecutive
        self.budget = budget
        self.min_updates = min_updates
        self.skipped = 0
        self._consecutive: Dict[str, int] = {}
        self._attempts: Dict[str, int] = {}
        self._skips: Dict[str, int] = {}

    @staticmethod
    def _all_finite(tensors: Iterable[Optional[Tensor]]) -> bool:
        flags = [torch.isfinite(t).all() for t in tensors if t is not None]
        if not flags:
            return True
        flag = torch.stack(flags).all().float()
        all_reduce(flag, op='min')  # no-op when not distributed
        return bool(flag.item() > 0)

    def attempt(self, name: str) -> None:
        """Count one attempted update of ``name`` (once per update)."""
        self._attempts[name] = self._attempts.get(name, 0) + 1

    def taken(self, name: str) -> None:
        """The update of ``name`` was applied: its run of consecutive skips
        ends (a finite loss followed by non-finite gradients still counts
        as a skip in a row)."""
        self._consecutive[name] = 0

    def ok(self,
           name: str,
           tensors: Iterable[Optional[Tensor]],
           what: str = 'loss or gradient') -> bool:
        if self._all_finite(tensors):
            return True
        self.skipped += 1
        self._skips[name] = self._skips.get(name, 0) + 1
        n = self._consecutive.get(name, 0) + 1
        self._consecutive[name] = n
        MMLogger.get_current_instance().warning(
            f'non-finite {what} in the {name} update: skipped, weights and '
            f'buffers unchanged ({n} in a row, {self.skipped} in total)')
        if n >= self.max_consecutive:
            raise FloatingPointError(
                f'{n} consecutive non-finite {name} updates: stopping. Lower '
                'the learning rate, check the data, or raise '
                '`max_consecutive_nonfinite` if this is expected.')
        self.check_budget()
        return False

    def over_budget(self, final: bool = False) -> Dict[str, tuple]:
        """``{name: (skipped, attempted)}`` of the updates over budget."""
        if self.budget is None:
            return {}
        over = {}
        for name, tries in self._attempts.items():
            skips = self._skips.get(name, 0)
            if (final or tries >= self.min_updates) and skips and \
                    skips > self.budget * tries:
                over[name] = (skips, tries)
        return over

    def check_budget(self, final: bool = False) -> None:
        """Raise if an update skipped more than the budget allows."""
        over = self.over_budget(final)
        if not over:
            return
        detail = ', '.join(f'{name}: {s} of {t} skipped'
                           for name, (s, t) in over.items())
        when = 'by the end of training' if final else 'so far'
        raise FloatingPointError(
            f'too many updates skipped for non-finite values {when} '
            f'({detail}; the budget `nonfinite_budget` is {self.budget:g} '
            'of each update\'s attempts): the run has not trained. Lower the '
            'learning rate or check the data; the checkpoints hold no '
            'non-finite value (skipped steps leave weights and buffers '
            'unchanged).')

    def state_dict(self) -> dict:
        return dict(
            skipped=self.skipped,
            consecutive=dict(self._consecutive),
            attempts=dict(self._attempts),
            skips=dict(self._skips))

    def load_state_dict(self, state: dict) -> None:
        self.skipped = state.get('skipped', 0)
        self._consecutive = dict(state.get('consecutive', {}))
        self._attempts = dict(state.get('attempts', {}))
        self._skips = dict(state.get('skips', {}))
