# Copyright (c) mmfusion contributors. All rights reserved.
"""The phase contract of task-driven training, declared in one place.

A training strategy alternates between kinds of steps (TDFusion: meta steps
of the loss generator, then fusion + task steps). The pieces that must agree
on them are tied together here instead of by matching strings:

* an algorithm declares its phases once, as ``PHASES``, a tuple of
  :class:`PhaseSpec` (name, how many batches one step takes, which
  sub-networks it updates);
* :class:`PhaseSchedule` is the schedule arithmetic of a config's
  ``train_cfg.phases`` (cycles, position within a phase, batches consumed
  before an iteration for exact resume), a small pure class;
* :func:`check_phases` validates a configured schedule against a
  declaration (an unknown or missing phase, or a different batch count, is
  an error naming both lists);
* :func:`current_phase` is the one accessor through which ``train_step``
  learns the phase, and :func:`phase_scope` sets it (the loop per
  iteration; tools, benchmarks and tests to run one step of a phase).

The phase lives in mmengine's message hub (``runtime_info``), so it is saved
in checkpoints and logs; :data:`HUB_KEYS` names the keys.
"""
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple

#: message-hub ``runtime_info`` keys of the current phase
HUB_KEYS = ('phase', 'phase_iter', 'cycle')


@dataclass(frozen=True)
class PhaseSpec:
    """One kind of training step of an algorithm.

    Args:
        name: the phase's name, as in ``train_cfg.phases``.
        batches: how many batches one ``train_step`` of this phase takes
            (the list length the loop hands over: the train loader's
            ``batches_per_iter`` plus all ``extra_batches``); 1 means a
            single batch, not a list.
        updates: the sub-networks (attribute names of the algorithm) whose
            parameters a step of this phase updates.
        doc: one line for docs and error messages.
    """
    name: str
    batches: int = 1
    updates: Tuple[str, ...] = ()
    doc: str = ''


class Phase(NamedTuple):
    """The current phase: its name, the position of this iteration within
    the phase (0-based) and the index of the cycle."""
    name: Optional[str]
    iter: int = 0
    cycle: int = 0


def _hub():
    from mmengine.logging import MessageHub
    return MessageHub.get_current_instance()


def current_phase() -> Phase:
    """The phase of the running iteration (``Phase(None)`` outside a
    phased loop and outside :func:`phase_scope`)."""
    hub = _hub()
    name, pos, cycle = (hub.get_info(k) for k in HUB_KEYS)
    return Phase(name, int(pos or 0), int(cycle or 0))


def set_phase(name: Optional[str], iter: int = 0, cycle: int = 0) -> None:
    """Make ``name`` the current phase (what the loop does each
    iteration)."""
    hub = _hub()
    for key, value in zip(HUB_KEYS, (name, iter, cycle)):
        hub.update_info(key, value)


@contextmanager
def phase_scope(name: str, iter: int = 0, cycle: int = 0) -> Iterator[None]:
    """Run the enclosed ``train_step`` calls as steps of phase ``name``; the
    previous phase is restored on exit::

        with phase_scope('meta'):
            model.train_step([inner, outer], optim_wrapper)
    """
    before = current_phase()
    set_phase(name, iter, cycle)
    try:
        yield
    finally:
        set_phase(*before)


def declared_phases(model) -> Optional[Tuple[PhaseSpec, ...]]:
    """The ``PHASES`` an algorithm declares (through DDP-style wrappers),
    or ``None`` for a model that declares none."""
    model = getattr(model, 'module', model)
    return getattr(type(model), 'PHASES', None)


def spec_of(phases: Sequence[PhaseSpec], name: Optional[str]) -> PhaseSpec:
    """The declaration of phase ``name``; an unknown name is an error naming
    the declared phases."""
    for spec in phases:
        if spec.name == name:
            return spec
    raise ValueError(f'phase {name!r} is not one of the declared phases '
                     f'{[s.name for s in phases]} (set it with '
                     'mmfusion.structures.phase_scope or PhasedTrainLoop)')


class _ConfiguredPhase(NamedTuple):
    name: str
    iters: int
    batches: int
    extra: Dict[str, int]

    @property
    def total_batches(self) -> int:
        return self.batches + sum(self.extra.values())


class PhaseSchedule:
    """The cycle of a config's ``train_cfg.phases``, as arithmetic.

    Args:
        phases: ``dict(name, iters, batches_per_iter=1, extra_batches={})``
            per phase; ``iters`` may be ``'epoch'``, resolved with
            ``loader_lens`` (``None``: the train loader; names: the extra
            loaders): one pass over the train loader
            (``len // batches_per_iter``) or, for a phase that draws from
            extra loaders only, over the first of them.
        loader_lens: the lengths of the dataloaders, for ``'epoch'``.
    """

    def __init__(self,
                 phases: Sequence[dict],
                 loader_lens: Optional[Dict[Optional[str], int]] = None):
        if not phases:
            raise ValueError('a phased schedule needs at least one phase')
        lens = dict(loader_lens or {})
        self.phases: List[_ConfiguredPhase] = []
        for phase in phases:
            phase = dict(phase)
            name = phase.pop('name')
            batches = int(phase.pop('batches_per_iter', 1))
            extra = {
                k: int(v)
                for k, v in phase.pop('extra_batches', {}).items()
            }
            iters = phase.pop('iters')
            if phase:
                raise KeyError(f'unknown keys {sorted(phase)} in phase {name}')
            if batches == 0 and not extra:
                raise ValueError(f'phase {name!r} draws no batches: give it '
                                 'batches_per_iter >= 1 or extra_batches')
            if iters == 'epoch':
                if batches:
                    iters = lens.get(None, 0) // batches
                else:
                    loader, n = next(iter(extra.items()))
                    if loader not in lens:
                        raise KeyError(f'phase {name!r} draws from dataloader '
                                       f'{loader!r} not in extra_dataloaders')
                    iters = lens[loader] // max(n, 1)
            if int(iters) < 1 or batches < 0:
                raise ValueError(
                    f'phase {name!r} has {iters} iterations of {batches} '
                    'batches; both must be >= 1 (is the dataset smaller than '
                    'batches_per_iter x batch_size?)')
            if any(n < 1 for n in extra.values()):
                raise ValueError(f'phase {name!r}: extra_batches must be >= 1')
            self.phases.append(
                _ConfiguredPhase(name, int(iters), batches, extra))
        self.cycle_iters = sum(p.iters for p in self.phases)

    @property
    def names(self) -> List[str]:
        return [p.name for p in self.phases]

    def locate(self, it: int) -> Tuple[_ConfiguredPhase, int]:
        """The phase of iteration ``it`` (0-based) and the position within
        it."""
        pos = it % self.cycle_iters
        for phase in self.phases:
            if pos < phase.iters:
                return phase, pos
            pos -= phase.iters
        raise AssertionError('unreachable')

    def phase_at(self, it: int) -> Phase:
        """The :class:`Phase` of iteration ``it``."""
        phase, pos = self.locate(it)
        return Phase(phase.name, pos, it // self.cycle_iters)

    def batches_before(self, it: int, loader: Optional[str] = None) -> int:
        """Batches that iterations ``0 .. it-1`` drew from the train
        dataloader (``loader=None``) or from the extra one ``loader``."""

        def per_iter(phase):
            return phase.batches if loader is None else phase.extra.get(
                loader, 0)

        cycles, pos = divmod(it, self.cycle_iters)
        total = cycles * sum(p.iters * per_iter(p) for p in self.phases)
        for phase in self.phases:
            n = min(pos, phase.iters)
            total += n * per_iter(phase)
            pos -= n
        return total


def check_phases(declared: Sequence[PhaseSpec],
                 schedule: PhaseSchedule,
                 owner: str = 'the algorithm') -> None:
    """A configured schedule must name exactly the declared phases, and each
    phase must hand ``train_step`` as many batches as its declaration says.
    The error names both lists."""
    want = [s.name for s in declared]
    got = schedule.names
    unknown = sorted(set(got) - set(want))
    missing = sorted(set(want) - set(got))
    if unknown or missing:
        raise ValueError(
            f'train_cfg.phases {got} do not match the phases {owner} '
            f'declares {want}: unknown {unknown}, missing {missing}')
    for phase in schedule.phases:
        spec = spec_of(declared, phase.name)
        if phase.total_batches != spec.batches:
            raise ValueError(
                f'train_cfg.phases: phase {phase.name!r} draws '
                f'{phase.total_batches} batches per step (batches_per_iter='
                f'{phase.batches}, extra_batches={phase.extra}) but '
                f'{owner} declares {spec.batches} '
                f'({[(s.name, s.batches) for s in declared]})')
