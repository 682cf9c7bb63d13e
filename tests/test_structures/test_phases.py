# Copyright (c) mmfusion contributors. All rights reserved.
"""The phase contract: schedule arithmetic, validation, the accessor."""
import pytest

from mmfusion.structures.phases import (Phase, PhaseSchedule, PhaseSpec,
                                        check_phases, current_phase,
                                        phase_scope)

TD = (PhaseSpec('meta', batches=2), PhaseSpec('fusion', batches=1))


def test_locate_and_cycles():
    s = PhaseSchedule([
        dict(name='meta', iters=3, batches_per_iter=2),
        dict(name='fusion', iters='epoch')
    ], {None: 5})
    assert s.cycle_iters == 3 + 5
    assert [s.phase_at(i) for i in (0, 2, 3, 7, 8, 12)] == [
        Phase('meta', 0, 0),
        Phase('meta', 2, 0),
        Phase('fusion', 0, 0),
        Phase('fusion', 4, 0),
        Phase('meta', 0, 1),
        Phase('fusion', 1, 1)
    ]


def test_batches_before_counts_every_loader():
    s = PhaseSchedule([
        dict(name='lower', iters=2),
        dict(name='upper', iters=1, extra_batches=dict(upper=1))
    ])
    # iterations 0..6: lower lower upper | lower lower upper | lower
    assert [s.batches_before(i) for i in range(8)] == [0, 1, 2, 3, 4, 5, 6, 7]
    assert [s.batches_before(i, 'upper')
            for i in range(8)] == [0, 0, 0, 1, 1, 1, 2, 2]
    # the count is the brute-force sum of what each iteration draws
    per = {'lower': 0, 'upper': 1}
    for n in range(20):
        assert s.batches_before(n, 'upper') == sum(per[s.phase_at(i).name]
                                                   for i in range(n))


def test_epoch_from_extra_loader_only():
    s = PhaseSchedule([
        dict(name='fusion', iters=4),
        dict(
            name='task',
            iters='epoch',
            batches_per_iter=0,
            extra_batches=dict(task=2))
    ], {
        None: 10,
        'task': 7
    })
    assert [p.iters for p in s.phases] == [4, 3]
    with pytest.raises(KeyError, match="'task' not in extra_dataloaders"):
        PhaseSchedule([
            dict(
                name='task',
                iters='epoch',
                batches_per_iter=0,
                extra_batches=dict(task=1))
        ], {None: 10})


@pytest.mark.parametrize('phase, match', [
    (dict(name='x', iters=0), 'has 0 iterations'),
    (dict(name='x', iters=1, batches_per_iter=0), 'draws no batches'),
    (dict(name='x', iters=1, colour='red'), 'unknown keys'),
    (dict(name='x', iters='epoch', batches_per_iter=4), 'has 0 iterations'),
])
def test_bad_phases(phase, match):
    with pytest.raises((ValueError, KeyError), match=match):
        PhaseSchedule([phase], {None: 3})


def test_check_phases_names_both_lists():
    good = PhaseSchedule([
        dict(name='meta', iters=1, batches_per_iter=2),
        dict(name='fusion', iters=1)
    ])
    check_phases(TD, good)
    typo = PhaseSchedule([
        dict(name='meta', iters=1, batches_per_iter=2),
        dict(name='fuse', iters=1)
    ])
    with pytest.raises(ValueError) as e:
        check_phases(TD, typo, 'TDFusion')
    msg = str(e.value)
    assert "['meta', 'fuse']" in msg and "['meta', 'fusion']" in msg
    assert "unknown ['fuse']" in msg and "missing ['fusion']" in msg
    one_batch = PhaseSchedule(
        [dict(name='meta', iters=1),
         dict(name='fusion', iters=1)])
    with pytest.raises(
            ValueError, match="'meta' draws 1 batches .* "
            'declares 2'):
        check_phases(TD, one_batch, 'TDFusion')


def test_phase_scope_sets_and_restores():
    before = current_phase()  # whatever an earlier test left
    with phase_scope('meta', iter=3, cycle=1):
        assert current_phase() == Phase('meta', 3, 1)
        with phase_scope('fusion'):
            assert current_phase() == Phase('fusion', 0, 0)
        assert current_phase() == Phase('meta', 3, 1)
    assert current_phase() == before
