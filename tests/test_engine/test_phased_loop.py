import os.path as osp

import pytest

from mmfusion.engine import PhasedTrainLoop
from mmfusion.structures import PhaseSchedule


def _schedule(phases, n_batches=10):
    """The loop's accounting over a schedule, without a runner."""
    loop = PhasedTrainLoop.__new__(PhasedTrainLoop)
    loop.dataloader = list(range(n_batches))
    loop.schedule = PhaseSchedule(phases, {None: n_batches})
    return loop


def test_phase_schedule_and_batch_accounting():
    loop = _schedule([
        dict(name='meta', iters=3, batches_per_iter=2),
        dict(name='fusion', iters='epoch')
    ])
    names = [loop.phase_at(i)[0] for i in range(15)]
    assert names == ['meta'] * 3 + ['fusion'] * 10 + ['meta'] * 2
    assert loop.phase_at(4) == ('fusion', 1, 1)
    # batches consumed before iteration k = sum of batches_per_iter so far
    consumed = 0
    for k in range(40):
        assert loop.batches_before(k) == consumed
        consumed += loop.phase_at(k)[2]


def test_bad_phases_are_rejected():
    with pytest.raises(ValueError, match='>= 1'):
        _schedule([dict(name='meta', iters='epoch', batches_per_iter=20)])
    with pytest.raises(KeyError, match='unknown keys'):
        _schedule([dict(name='meta', iters=2, every=3)])
    with pytest.raises(ValueError, match='at least one'):
        _schedule([])


def test_extra_dataloader_accounting():
    loop = _schedule([
        dict(name='lower', iters=4),
        dict(name='upper', iters=1, extra_batches=dict(upper=1))
    ])
    assert [loop.phase_at(i)[0]
            for i in range(6)] == ['lower'] * 4 + ['upper', 'lower']
    assert loop.batches_before(12) == 12  # one train batch per iteration
    assert loop.batches_before(12, 'upper') == 2  # iterations 4 and 9
    assert loop.batches_before(10, 'upper') == 2
    assert loop.batches_before(9, 'upper') == 1


@pytest.mark.parametrize('phases, match', [
    ([
        dict(name='meta', iters=2, batches_per_iter=2),
        dict(name='fuse', iters=2)
    ], r"train_cfg.phases \['meta', 'fuse'\] do not match the phases TDFusion "
     r"declares \['meta', 'fusion'\]: unknown \['fuse'\], missing "
     r"\['fusion'\]"),
    ([dict(name='fusion', iters=2)], r"missing \['meta'\]"),
    ([dict(name='meta', iters=2),
      dict(name='fusion', iters=2)
      ], "phase 'meta' draws 1 batches per step .* TDFusion declares 2"),
])
def test_config_phases_checked_against_the_algorithm_at_build(
        repo_root, msrs_mini, tmp_path, phases, match):
    """A config whose train_cfg.phases names a phase its algorithm lacks (or
    lacks one, or draws another number of batches) fails when the loop is
    built, before any step, with both lists named."""
    from test_tdfusion_runner import tdfusion_test_cfg

    from mmfusion.engine.runner import build_runner
    cfg = tdfusion_test_cfg(repo_root, msrs_mini, tmp_path, 4)
    cfg.train_cfg.phases = phases
    runner = build_runner(cfg)
    with pytest.raises(ValueError, match=match):
        runner.build_train_loop(cfg.train_cfg)
    assert not osp.exists(osp.join(str(tmp_path), 'iter_1.pth'))
