# Copyright (c) mmfusion contributors. All rights reserved.
from typing import Dict, Optional, Sequence, Union

from mmengine.hooks import ParamSchedulerHook

from mmfusion.registry import HOOKS
from mmfusion.structures.phases import current_phase


@HOOKS.register_module()
class PhasedParamSchedulerHook(ParamSchedulerHook):
    """Step each optimiser's schedulers only in the phases that train it.

    With :class:`PhasedTrainLoop` a sub-network is often updated in one phase
    only, and its published schedule counts *its own* steps: SeAFusion's
    segmenter follows warm-up + poly over its 4 x 20,000 iterations
    (offset ``r * 20000`` in round ``r``), and the fusion net's
    ``lr = 1e-3 * 0.75 ** (e - 1)`` restarts at epoch 0 of every round.
    mmengine's :class:`ParamSchedulerHook` steps every scheduler after every
    iteration; this hook steps the schedulers of ``runner.param_schedulers``
    key ``k`` only after iterations of the phases ``phases[k]``, and, for the
    keys in ``restart``, rewinds them (values back to ``initial_<param>``,
    counters to 0, as when they were built) before the first iteration of
    every new run of their phase::

        param_scheduler = dict(fusion_net=[...], task=[...])
        default_hooks = dict(param_scheduler=dict(
            type='PhasedParamSchedulerHook',
            phases=dict(fusion_net='fusion', task='task'),
            restart=['fusion_net']))

    Keys not named in ``phases`` step after every iteration, as with
    mmengine's hook (so it is a drop-in replacement). Schedulers are stateless
    besides their own ``state_dict`` (saved in checkpoints), and the phase is
    a pure function of the iteration, so resuming mid-phase continues the
    schedule exactly. Epoch-based schedulers and ``ReduceOnPlateau`` behave
    as with :class:`ParamSchedulerHook`.

    Args:
        phases: ``{optim_wrapper key: phase name or list of names}``.
        restart: keys whose schedulers restart at every new run of their
            phase(s).
    """

    priority = 'LOW'

    def __init__(self,
                 phases: Optional[Dict[str, Union[str, Sequence[str]]]] = None,
                 restart: Sequence[str] = ()):
        self.phases = {
            k: {v} if isinstance(v, str) else set(v)
            for k, v in (phases or {}).items()
        }
        self.restart = list(restart)
        unknown = set(self.restart) - set(self.phases)
        if unknown:
            raise KeyError(f'restart names {sorted(unknown)}, which have no '
                           'phases: a restart happens when their phase '
                           'begins again')

    def _schedulers(self, runner) -> Dict[Optional[str], list]:
        schedulers = runner.param_schedulers
        if schedulers is None:
            return {}
        if isinstance(schedulers, list):
            if self.phases:
                raise TypeError('PhasedParamSchedulerHook with `phases` needs '
                                'param_scheduler as a dict keyed like the '
                                'optim_wrapper dict')
            return {None: schedulers}
        unknown = set(self.phases) - set(schedulers)
        if unknown:
            raise KeyError(f'phases names {sorted(unknown)}, which are not '
                           f'param_scheduler keys {sorted(schedulers)}')
        return schedulers

    @staticmethod
    def _current_phase():
        phase = current_phase()
        return phase.name, phase.iter

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch=None) -> None:
        phase, pos = self._current_phase()
        if pos != 0 or runner.iter == 0:
            return  # the schedulers start in their built state anyway
        schedulers = self._schedulers(runner)
        for key in self.restart:
            if phase in self.phases[key]:
                restart_schedulers(schedulers[key])

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        phase, _ = self._current_phase()
        for key, schedulers in self._schedulers(runner).items():
            if key in self.phases and phase not in self.phases[key]:
                continue
            for scheduler in schedulers:
                if not scheduler.by_epoch:
                    scheduler.step()


def restart_schedulers(schedulers: Sequence) -> None:
    """Rewind mmengine parameter schedulers to their just-built state.

    A scheduler's constructor records ``initial_<param>`` in the optimiser's
    param groups and takes step 0; chainable schedulers then scale the
    current value. Restarting therefore restores every scheduled parameter to
    its initial value, resets the counters and takes step 0 again, in the
    order the schedulers were built.
    """
    for scheduler in schedulers:
        name = scheduler.param_name
        for group in scheduler.optimizer.param_groups:
            group[name] = group[f'initial_{name}']
    for scheduler in schedulers:
        scheduler.last_step = -1
        scheduler._global_step = -1
        scheduler.step()
