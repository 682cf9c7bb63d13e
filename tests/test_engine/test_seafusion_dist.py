"""2-process gloo DDP run of the SeAFusion demo config (shrunk like
test_seafusion_runner): after a round 0 and the fusion + task phases of round
1 (beta 1: the semantic loss through the frozen task, and the fusion net
re-initialised), every parameter of the fusion net and of the task is
identical on both ranks. Each rank saw different pairs, so this holds only if
both networks' gradients were all-reduced and the re-initialisation drew the
same weights on both ranks."""
import os

import pytest
import torch

from mmfusion.testing import spawn_ranks


def _worker(rank, repo_root, msrs_mini, work_dir):
    from test_seafusion_runner import ROUND, seafusion_test_cfg

    from mmfusion.engine.runner import build_runner
    cfg = seafusion_test_cfg(
        repo_root, msrs_mini, work_dir, 2 * ROUND, launcher='pytorch')
    runner = build_runner(cfg)
    runner.train()
    model = runner.model.module
    state = {k: v.detach().cpu() for k, v in model.named_parameters()}
    wrapped = {
        name: type(getattr(model, name)).__name__
        for name in ('fusion_net', 'task')
    }
    torch.save(
        dict(
            params=state,
            wrapped=wrapped,
            round=runner.message_hub.get_info('cycle')),
        os.path.join(work_dir, f'rank{rank}.pth'))


@pytest.mark.slow
def test_all_parameters_identical_across_ranks(repo_root, msrs_mini, tmp_path):
    spawn_ranks(_worker, 2, repo_root, msrs_mini, str(tmp_path))
    r0 = torch.load(tmp_path / 'rank0.pth', weights_only=False)
    r1 = torch.load(tmp_path / 'rank1.pth', weights_only=False)
    assert set(r0['wrapped'].values()) == {'MMDistributedDataParallel'}
    assert r0['round'] == r1['round'] == 1
    assert r0['params'].keys() == r1['params'].keys()
    assert any(k.startswith('fusion_net.') for k in r0['params'])
    assert any(k.startswith('task.') for k in r0['params'])
    for k in r0['params']:
        assert torch.equal(r0['params'][k], r1['params'][k]), k
