"""2-process gloo DDP: after meta and fusion iterations every parameter of
the fusion net, the loss generator and the task is identical on both ranks
(each rank saw different pairs, so this holds only if all three networks'
gradients were all-reduced)."""
import os

import pytest
import torch

from mmfusion.testing import spawn_ranks


def _worker(rank, repo_root, msrs_mini, work_dir):
    from test_tdfusion_runner import tdfusion_test_cfg

    from mmfusion.engine.runner import build_runner
    cfg = tdfusion_test_cfg(
        repo_root, msrs_mini, work_dir, 5, launcher='pytorch')
    runner = build_runner(cfg)
    runner.train()
    model = runner.model.module
    state = {k: v.detach().cpu() for k, v in model.named_parameters()}
    wrapped = {
        name: type(getattr(model, name)).__name__
        for name in ('fusion_net', 'loss_generator', 'task')
    }
    torch.save(
        dict(params=state, wrapped=wrapped),
        os.path.join(work_dir, f'rank{rank}.pth'))


@pytest.mark.slow
def test_all_parameters_identical_across_ranks(repo_root, msrs_mini, tmp_path):
    spawn_ranks(_worker, 2, repo_root, msrs_mini, str(tmp_path))
    r0 = torch.load(tmp_path / 'rank0.pth')
    r1 = torch.load(tmp_path / 'rank1.pth')
    assert set(r0['wrapped'].values()) == {'MMDistributedDataParallel'}
    assert r0['params'].keys() == r1['params'].keys()
    for k in r0['params']:
        assert torch.equal(r0['params'][k], r1['params'][k]), k


def _grad_worker(rank, repo_root, msrs_mini, work_dir):
    from mmengine.hooks import Hook
    from test_tdfusion_runner import tdfusion_test_cfg

    from mmfusion.engine.runner import build_runner

    class RecordGeneratorGrad(Hook):
        """The loss generator's gradient as its optimiser steps on it
        (after DDP's all-reduce)."""

        def __init__(self):
            self.grads = None

        def before_train_iter(self, runner, batch_idx, data_batch=None):
            ow = runner.optim_wrapper['loss_generator']
            if getattr(ow, '_recording', False):
                return
            ow._recording = True
            step = ow.step

            def recording_step(**kwargs):
                self.grads = [
                    p.grad.detach().clone() for group in ow.param_groups
                    for p in group['params']
                ]
                return step(**kwargs)

            ow.step = recording_step

    out = {}
    for mode in ('full_backward', 'jvp', 'double_backward'):
        cfg = tdfusion_test_cfg(
            repo_root,
            msrs_mini,
            os.path.join(work_dir, mode),
            1,
            launcher='pytorch')
        cfg.model.hypergrad = mode
        runner = build_runner(cfg)
        hook = RecordGeneratorGrad()
        runner.register_hook(hook)
        runner.train()  # one meta iteration
        out[mode] = hook.grads
    torch.save(out, os.path.join(work_dir, f'grads{rank}.pth'))


@pytest.mark.slow
def test_hypergradient_all_reduced_like_full_backward(repo_root, msrs_mini,
                                                      tmp_path):
    """2 ranks, different pairs: the loss generator's gradient that its
    optimiser applies is, in every hypergrad mode, the one DDP's reducer
    averaged in the pre-issue-15 full backward, and the same on both
    ranks."""
    spawn_ranks(_grad_worker, 2, repo_root, msrs_mini, str(tmp_path))
    g0 = torch.load(tmp_path / 'grads0.pth')
    g1 = torch.load(tmp_path / 'grads1.pth')
    ref = g0['full_backward']
    scale = max(float(g.abs().max()) for g in ref)
    assert scale > 0
    for mode in ('full_backward', 'jvp', 'double_backward'):
        for a, b in zip(g0[mode], g1[mode]):
            assert torch.equal(a, b), mode  # all-reduced
        diff = max(float((a - b).abs().max()) for a, b in zip(ref, g0[mode]))
        assert diff <= 1e-5 * scale, (mode, diff, scale)
