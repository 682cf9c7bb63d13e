"""2-process gloo DDP: after meta and fusion iterations every parameter of
the fusion net, the loss generator and the task is identical on both ranks
(each rank saw different pairs, so this holds only if all three networks'
gradients were all-reduced)."""
import os
import socket

import torch
import torch.multiprocessing as mp


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _worker(rank, world_size, port, repo_root, msrs_mini, work_dir):
    os.environ.update(
        MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port), RANK=str(rank),
        LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size))
    torch.set_num_threads(1)
    import mmfusion  # noqa: F401  (CPU/gloo support of the launcher)
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
    mp.spawn(
        _worker,
        args=(2, _free_port(), repo_root, msrs_mini, str(tmp_path)),
        nprocs=2,
        join=True)
    r0 = torch.load(tmp_path / 'rank0.pth')
    r1 = torch.load(tmp_path / 'rank1.pth')
    assert set(r0['wrapped'].values()) == {'MMDistributedDataParallel'}
    assert r0['params'].keys() == r1['params'].keys()
    for k in r0['params']:
        assert torch.equal(r0['params'][k], r1['params'][k]), k
