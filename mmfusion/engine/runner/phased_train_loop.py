# Copyright (c) mmfusion contributors. All rights reserved.
import logging
from typing import Dict, List, Optional, Sequence, Tuple, Union

from mmengine.logging import MessageHub, print_log
from mmengine.runner import IterBasedTrainLoop
from torch.utils.data import DataLoader

from mmfusion.registry import LOOPS


@LOOPS.register_module()
class PhasedTrainLoop(IterBasedTrainLoop):
    """Iteration-based training that cycles through named phases.

    Task-driven fusion alternates between kinds of steps (TDFusion: N
    meta-steps of the loss generator, then a pass of fusion + task training).
    The loop owns that schedule; the algorithm's ``train_step`` reads the
    current phase from the message hub (``get_info('phase')``) and does the
    step of that phase::

        train_cfg = dict(
            type='PhasedTrainLoop',
            phases=[dict(name='meta', iters=200, batches_per_iter=2),
                    dict(name='fusion', iters='epoch')],
            max_iters=40 * (200 + 1083), val_interval=1283)

    Args:
        phases: the cycle. ``iters`` is an int or ``'epoch'`` (one pass over
            the train dataloader, ``len(dataloader) // batches_per_iter``).
            ``batches_per_iter`` > 1 hands ``train_step`` a list of that many
            batches (e.g. the meta step's inner and outer batches).
        Other args: see :class:`mmengine.runner.IterBasedTrainLoop`.

    The phase is a pure function of the iteration, and on resume the loop
    skips exactly the batches the finished iterations consumed, so ``N``
    iterations + ``--resume`` + ``N`` equals ``2N`` uninterrupted. The phase
    and its position are also stored in the message hub (thus in
    checkpoints and logs).
    """

    def __init__(self,
                 runner,
                 dataloader: Union[DataLoader, Dict],
                 max_iters: int,
                 phases: Sequence[dict],
                 val_begin: int = 1,
                 val_interval: int = 1000,
                 dynamic_intervals: Optional[List[Tuple[int, int]]] = None):
        super().__init__(runner, dataloader, max_iters, val_begin,
                         val_interval, dynamic_intervals)
        self._parse_phases(phases)

    def _parse_phases(self, phases: Sequence[dict]) -> None:
        if not phases:
            raise ValueError('PhasedTrainLoop needs at least one phase')
        self.phases = []
        for phase in phases:
            phase = dict(phase)
            name = phase.pop('name')
            batches = int(phase.pop('batches_per_iter', 1))
            iters = phase.pop('iters')
            if phase:
                raise KeyError(f'unknown keys {sorted(phase)} in phase {name}')
            if iters == 'epoch':
                iters = len(self.dataloader) // batches
            if int(iters) < 1 or batches < 1:
                raise ValueError(
                    f'phase {name!r} has {iters} iterations of {batches} '
                    'batches; both must be >= 1 (is the dataset smaller than '
                    'batches_per_iter x batch_size?)')
            self.phases.append((name, int(iters), batches))
        self._cycle_iters = sum(iters for _, iters, _ in self.phases)
        self._cycle_batches = sum(i * b for _, i, b in self.phases)

    def phase_at(self, it: int) -> Tuple[str, int, int]:
        """``(name, position within the phase, batches per iter)`` of
        iteration ``it`` (0-based)."""
        pos = it % self._cycle_iters
        for name, iters, batches in self.phases:
            if pos < iters:
                return name, pos, batches
            pos -= iters
        raise AssertionError('unreachable')

    def batches_before(self, it: int) -> int:
        """Number of batches consumed by iterations ``0 .. it-1``."""
        cycles, pos = divmod(it, self._cycle_iters)
        total = cycles * self._cycle_batches
        for _, iters, batches in self.phases:
            n = min(pos, iters)
            total += n * batches
            pos -= n
        return total

    def run(self) -> None:
        self.runner.call_hook('before_train')
        self.runner.call_hook('before_train_epoch')
        if self._iter > 0:
            skip = self.batches_before(self._iter)
            print_log(
                f'Advance dataloader {skip} batches ({self._iter} iterations) '
                'to skip data that has already been trained',
                logger='current',
                level=logging.WARNING)
            for _ in range(skip):
                next(self.dataloader_iterator)
        while self._iter < self._max_iters and not self.stop_training:
            self.runner.model.train()
            name, pos, batches = self.phase_at(self._iter)
            hub = MessageHub.get_current_instance()
            hub.update_info('phase', name)
            hub.update_info('phase_iter', pos)
            data = [next(self.dataloader_iterator) for _ in range(batches)]
            self.run_iter(data[0] if batches == 1 else data)
            self._decide_current_val_interval()
            if (self.runner.val_loop is not None
                    and self._iter >= self.val_begin
                    and (self._iter % self.val_interval == 0
                         or self._iter == self._max_iters)):
                self.runner.val_loop.run()
        self.runner.call_hook('after_train_epoch')
        self.runner.call_hook('after_train')
        return self.runner.model
