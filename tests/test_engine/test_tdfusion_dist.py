"""2-process gloo DDP: after meta and fusion iterations every parameter of
the fusion net, the loss generator and the task is identical on both ranks
(each rank saw different pairs, so this holds only if all three networks'
gradients were all-reduced)."""
import os

import torch

from mmfusion.testing import spawn_ranks



def _worker(rank, repo_root, msrs_mini, work_dir):
    from mmengine.runner import Runner
    from test_tdfusion_runner import tdfusion_test_cfg
    cfg = tdfusion_test_cfg(repo_root, msrs_mini, work_dir, 5,
                            launcher='pytorch')
    runner = Runner.from_cfg(cfg)
    runner.train()
    model = runner.model.module
    state = {k: v.detach().cpu() for k, v in model.named_parameters()}
    wrapped = {
        name: type(getattr(model, name)).__name__
        for name in ('fusion_net', 'loss_generator', 'task')
    }
    torch.save(dict(params=state, wrapped=wrapped),
               os.path.join(work_dir, f'rank{rank}.pth'))


def test_all_parameters_identical_across_ranks(repo_root, msrs_mini,
                                              tmp_path):
    spawn_ranks(_worker, 2, repo_root, msrs_mini, str(tmp_path))
    r0 = torch.load(tmp_path / 'rank0.pth')
    r1 = torch.load(tmp_path / 'rank1.pth')
    assert set(r0['wrapped'].values()) == {'MMDistributedDataParallel'}
    assert r0['params'].keys() == r1['params'].keys()
    for k in r0['params']:
        assert torch.equal(r0['params'][k], r1['params'][k]), k
