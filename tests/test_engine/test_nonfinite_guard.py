"""The non-finite guard through the real Runner, in all three strategies: a
skipped update leaves every parameter and buffer (BatchNorm running
statistics included) as it was, so no checkpoint ever holds NaN/Inf; a run
whose updates are (nearly) all skipped stops with an error instead of ending
as if it had trained; the counts survive a resume."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.logging import MessageHub
from test_bdlfusion_dist import bdl_test_cfg
from test_seafusion_runner import seafusion_test_cfg
from test_tdfusion_runner import tdfusion_test_cfg

from mmfusion.engine.runner import build_runner
from mmfusion.models.utils.nonfinite import BufferSnapshot, NonFiniteGuard
from mmfusion.utils.checkpoint import load_checkpoint_file

HUGE = 1e30


def _probe_cfg(strategy, repo_root, msrs_mini, work_dir, max_iters):
    """The issue's probe: the fusion net's learning rate forced to 1e30,
    a checkpoint after every iteration."""
    if strategy == 'tdfusion':
        cfg = tdfusion_test_cfg(repo_root, msrs_mini, work_dir, max_iters)
    elif strategy == 'bdlfusion':
        cfg = bdl_test_cfg(repo_root, msrs_mini, work_dir, max_iters)
        cfg.model.eta = HUGE  # the leader's lr is tied to eta
    else:
        cfg = seafusion_test_cfg(repo_root, msrs_mini, work_dir, max_iters)
        cfg.param_scheduler = dict(fusion_net=[], task=[])
    cfg.optim_wrapper.fusion_net.optimizer.lr = HUGE
    cfg.default_hooks.checkpoint.interval = 1
    return cfg


def _nonfinite(obj, prefix=''):
    """Names of the non-finite floating tensors anywhere in ``obj``."""
    bad = []
    if isinstance(obj, torch.Tensor):
        if obj.is_floating_point() and not torch.isfinite(obj).all():
            bad.append(prefix)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            bad += _nonfinite(v, f'{prefix}.{k}' if prefix else str(k))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            bad += _nonfinite(v, f'{prefix}[{i}]')
    return bad


@pytest.mark.parametrize('strategy', ['tdfusion', 'bdlfusion', 'seafusion'])
@pytest.mark.slow
def test_lr_1e30_probe_writes_no_nonfinite_checkpoint(strategy, repo_root,
                                                      msrs_mini, tmp_path):
    max_iters = 6 if strategy == 'bdlfusion' else 4
    runner = build_runner(
        _probe_cfg(strategy, repo_root, msrs_mini, tmp_path, max_iters))
    # the run trains nothing: it stops with a clear error (the skip budget
    # at the end, or an optimiser step that overflowed the weights)
    with pytest.raises(
            FloatingPointError,
            match='skipped for non-finite|non-finite weights') as stop:
        runner.train()
    ckpts = sorted(glob.glob(str(tmp_path / 'iter_*.pth')))
    assert ckpts, 'no checkpoint was written before the run stopped'
    for path in ckpts:
        ckpt = load_checkpoint_file(str(path), map_location='cpu')
        bad = _nonfinite(ckpt['state_dict']) + _nonfinite(ckpt['optimizer'])
        assert not bad, (osp.basename(path), bad[:5], len(bad))
    # the model in memory too, buffers included
    assert not _nonfinite(dict(runner.model.state_dict()))
    # skipped updates, or a step whose non-finite weights were refused (and
    # undone): BDLFusion's leader, whose hypergradient carries eta = 1e30
    assert runner.model.nonfinite_guard.skipped > 0 or \
        'non-finite weights' in str(stop.value)


def test_skipped_update_restores_buffers_and_counts(repo_root, msrs_mini,
                                                    tmp_path):
    """A task update whose loss is NaN after its forward pass moved the
    BatchNorm statistics: parameters and buffers are exactly as before."""
    cfg = tdfusion_test_cfg(repo_root, msrs_mini, tmp_path, 1)
    runner = build_runner(cfg)
    model = runner.model
    ow = runner.build_optim_wrapper(runner.optim_wrapper)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    task = model.task

    def forward():
        # a forward in training mode moves the running statistics
        x = torch.rand(2, 1, 32, 32) * 1e3
        for m in task.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m(torch.rand(2, m.num_features, 4, 4) * float('nan'))
                break
        return dict(loss=x.mean() * float('nan'))

    log = model.guarded_update(ow['task'], forward, 'task', task)
    assert 'loss' in log
    after = model.state_dict()
    for k in before:
        assert torch.equal(before[k],
                           after[k]) or (torch.isnan(before[k]).all()
                                         and torch.isnan(after[k]).all()), k
    assert model.nonfinite_guard.skipped == 1


def test_nonfinite_running_statistic_alone_skips():
    """A finite loss whose forward pass wrote Inf into a running statistic
    is skipped too (the statistic would reach the checkpoint)."""
    bn = torch.nn.BatchNorm1d(3)
    snap = BufferSnapshot(bn)
    bn(torch.tensor([[1e38, 0., 0.], [-1e38, 0., 0.]]))  # variance overflows
    guard = NonFiniteGuard()
    assert not guard.ok('x', [torch.tensor(1.)] + snap.new_values())
    snap.restore()
    assert torch.equal(bn.running_var, torch.ones(3))
    assert int(bn.num_batches_tracked) == 0


def test_gradient_skips_count_in_a_row():
    """A finite loss followed by non-finite gradients is a skip in a row
    too; only an applied update ends the run."""
    guard = NonFiniteGuard(max_consecutive=3, budget=None)
    finite, nan = [torch.tensor(1.)], [torch.tensor(float('nan'))]
    for _ in range(2):
        assert guard.ok('task', finite)  # the loss
        assert not guard.ok('task', nan, 'gradient')
    guard.taken('task')
    for _ in range(2):
        assert guard.ok('task', finite)
        assert not guard.ok('task', nan, 'gradient')
    assert guard.ok('task', finite)
    with pytest.raises(FloatingPointError, match='3 consecutive'):
        guard.ok('task', nan, 'gradient')


def test_budget():
    guard = NonFiniteGuard(max_consecutive=100, budget=0.25, min_updates=8)
    nan = [torch.tensor(float('nan'))]
    for _ in range(3):  # 1 skip in 3 updates: over budget, but few updates
        guard.attempt('fusion')
    guard.ok('fusion', nan)
    with pytest.raises(FloatingPointError, match='fusion: 1 of 3 skipped'):
        guard.check_budget(final=True)
    for _ in range(5):
        guard.attempt('fusion')
        guard.ok('fusion', [torch.tensor(1.)])
    guard.check_budget()  # 1 of 8: within budget
    guard.attempt('fusion')
    guard.ok('fusion', nan)
    guard.attempt('fusion')
    with pytest.raises(FloatingPointError, match='fusion: 3 of 10 skipped'):
        guard.ok('fusion', nan)
    # the counts go through a checkpoint
    other = NonFiniteGuard()
    other.load_state_dict(guard.state_dict())
    assert other.over_budget(final=True) == {'fusion': (3, 10)}
    with pytest.raises(ValueError, match='fraction'):
        NonFiniteGuard(budget=2)


@pytest.mark.slow
def test_guard_counts_survive_resume(repo_root, msrs_mini, tmp_path):
    """The counts are written to the message hub (so checkpoints carry them)
    and read back by the first update of a resumed run."""
    cfg = seafusion_test_cfg(repo_root, msrs_mini, tmp_path, 2)
    runner = build_runner(cfg)
    runner.train()
    ckpt = load_checkpoint_file(
        str(tmp_path / 'iter_2.pth'), map_location='cpu')
    state = ckpt['message_hub']['runtime_info']['nonfinite_guard']
    assert state['iter'] == 1 and state['attempts'] == {'fusion': 2}
    resumed = build_runner(
        seafusion_test_cfg(
            repo_root,
            msrs_mini,
            tmp_path,
            3,
            resume=True,
            load_from=str(tmp_path / 'iter_2.pth')))
    resumed.train()
    assert resumed.model.nonfinite_guard.state_dict()['attempts'] == {
        'fusion': 2,
        'task': 1
    }
    assert MessageHub.get_current_instance().get_info(
        'nonfinite_guard')['iter'] == 2
