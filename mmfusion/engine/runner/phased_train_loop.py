# Copyright (c) mmfusion contributors. All rights reserved.
import logging
from typing import Dict, List, Optional, Sequence, Tuple, Union

from mmengine.logging import MessageHub, print_log
from mmengine.runner import IterBasedTrainLoop
from mmengine.runner.loops import _InfiniteDataloaderIterator
from torch.utils.data import DataLoader

from mmfusion.registry import LOOPS
from mmfusion.structures.phases import (PhaseSchedule, check_phases,
                                        declared_phases, set_phase)


@LOOPS.register_module()
class PhasedTrainLoop(IterBasedTrainLoop):
    """Iteration-based training that cycles through named phases.

    Task-driven fusion alternates between kinds of steps (TDFusion: N
    meta-steps of the loss generator, then a pass of fusion + task training).
    The loop owns that schedule (arithmetic in
    :class:`mmfusion.structures.PhaseSchedule`); the algorithm's
    ``train_step`` reads the current phase through
    :func:`mmfusion.structures.current_phase` and does the step of that
    phase. An algorithm that declares its phases (``PHASES``, a tuple of
    :class:`mmfusion.structures.PhaseSpec`) has the configured ``phases``
    checked against the declaration when the loop is built: an unknown or
    missing phase, or a phase drawing another number of batches than the
    step takes, is an error naming both lists::

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
            ``extra_batches=dict(upper=1)`` appends batches drawn from the
            named ``extra_dataloaders`` to that list (e.g. BDLFusion's
            upper-level batch from the validation split).
            ``batches_per_iter=0`` with ``extra_batches`` makes a phase draw
            from extra dataloaders only (e.g. SeAFusion's task phase, whose
            augmentation differs from the fusion phase's); its ``'epoch'``
            is then one pass over the first of them.
        extra_dataloaders: named dataloader configs besides the train one.
        Other args: see :class:`mmengine.runner.IterBasedTrainLoop`.

    The phase is a pure function of the iteration, and on resume the loop
    skips exactly the batches the finished iterations consumed, so ``N``
    iterations + ``--resume`` + ``N`` equals ``2N`` uninterrupted. The
    skipped batches are drawn in the order the finished iterations drew them,
    so loaders whose random transforms share the main process's RNG
    (``num_workers=0``) replay the same augmentations. The phase, its
    position and the cycle index (:class:`mmfusion.structures.Phase`: e.g.
    SeAFusion's round), and the passes over the train
    dataloader so far (``'epoch'``, read by task heads with an epoch-based
    warm-up such as TOOD's) are also stored in the message hub
    (thus in checkpoints and logs).
    """

    def __init__(self,
                 runner,
                 dataloader: Union[DataLoader, Dict],
                 max_iters: int,
                 phases: Sequence[dict],
                 extra_dataloaders: Optional[Dict[str, Union[DataLoader,
                                                             Dict]]] = None,
                 val_begin: int = 1,
                 val_interval: int = 1000,
                 dynamic_intervals: Optional[List[Tuple[int, int]]] = None):
        super().__init__(runner, dataloader, max_iters, val_begin,
                         val_interval, dynamic_intervals)
        self.extra_iterators = {}
        self.extra_dataloaders = {}
        for name, loader in (extra_dataloaders or {}).items():
            if isinstance(loader, dict):
                loader = runner.build_dataloader(
                    loader,
                    seed=runner.seed,
                    diff_rank_seed=runner._randomness_cfg.get(
                        'diff_rank_seed', False))
            self.extra_dataloaders[name] = loader
            self.extra_iterators[name] = _InfiniteDataloaderIterator(loader)
        lens = {None: len(self.dataloader)}
        lens.update({k: len(v) for k, v in self.extra_dataloaders.items()})
        self.schedule = PhaseSchedule(phases, lens)
        for phase in self.schedule.phases:
            unknown = set(phase.extra) - set(self.extra_iterators)
            if unknown:
                raise KeyError(f'phase {phase.name!r} draws from dataloaders '
                               f'{sorted(unknown)} not in extra_dataloaders')
        declared = declared_phases(runner.model)
        if declared is not None:
            check_phases(
                declared, self.schedule,
                type(getattr(runner.model, 'module', runner.model)).__name__)
        self._check_targets(runner)

    def _check_targets(self, runner) -> None:
        """Before the first step: the algorithm checks the first sample of
        each dataloader (:meth:`FusionModel.check_targets`: e.g. the task
        model gets every target it needs, such as instance masks for Mask
        R-CNN); the error names the dataloader. The global random state is
        left as it was."""
        model = getattr(runner.model, 'module', runner.model)
        check = getattr(model, 'check_targets', None)
        if check is None:
            return
        import random

        import numpy as np
        import torch
        loaders = [('train', self.dataloader), *self.extra_dataloaders.items()]
        for name, loader in loaders:
            dataset = getattr(loader, 'dataset', None)
            if dataset is None or len(dataset) == 0:
                continue
            state = (random.getstate(), np.random.get_state(),
                     torch.get_rng_state())
            try:
                sample = dataset[0].get('data_samples')
            finally:
                random.setstate(state[0])
                np.random.set_state(state[1])
                torch.set_rng_state(state[2])
            try:
                check([sample] if sample is not None else [])
            except ValueError as e:
                raise ValueError(f'{name} dataloader: {e}') from None

    @property
    def phases(self) -> list:
        """The configured phases (see :class:`PhaseSchedule`)."""
        return self.schedule.phases

    def phase_at(self, it: int) -> Tuple[str, int, int]:
        """``(name, position within the phase, batches per iter)`` of
        iteration ``it`` (0-based)."""
        phase, pos = self.schedule.locate(it)
        return phase.name, pos, phase.batches

    def batches_before(self, it: int, loader: Optional[str] = None) -> int:
        """Number of batches that iterations ``0 .. it-1`` drew from the
        train dataloader (``loader=None``) or from an extra one."""
        return self.schedule.batches_before(it, loader)

    def _draw(self, phase) -> list:
        """The batches of one iteration of ``phase``: train ones first, then
        the extra loaders' in their configured order."""
        data = [next(self.dataloader_iterator) for _ in range(phase.batches)]
        for loader, n in phase.extra.items():
            data += [next(self.extra_iterators[loader]) for _ in range(n)]
        return data

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
            # replay iteration by iteration: with several loaders, the
            # order of the draws is part of what makes the replay exact
            for it in range(self._iter):
                self._draw(self.schedule.locate(it)[0])
        while self._iter < self._max_iters and not self.stop_training:
            self.runner.model.train()
            phase, pos = self.schedule.locate(self._iter)
            set_phase(phase.name, pos, self._iter // self.schedule.cycle_iters)
            hub = MessageHub.get_current_instance()
            # passes over the train dataloader so far (task heads with an
            # epoch-based warm-up, e.g. TOOD's initial_epoch, read it)
            hub.update_info(
                'epoch',
                self.batches_before(self._iter) //
                max(len(self.dataloader), 1))
            data = self._draw(phase)
            self.run_iter(data[0] if len(data) == 1 else data)
            self._decide_current_val_interval()
            if (self.runner.val_loop is not None
                    and self._iter >= self.val_begin
                    and (self._iter % self.val_interval == 0
                         or self._iter == self._max_iters)):
                self.runner.val_loop.run()
        self.runner.call_hook('after_train_epoch')
        self.runner.call_hook('after_train')
        return self.runner.model
