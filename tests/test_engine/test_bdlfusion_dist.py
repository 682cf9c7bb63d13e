"""BDLFusion's demo config under 2-process gloo DDP: after lower- and
upper-level iterations every parameter (leader and both followers) is
identical on both ranks, which saw different pairs."""
import os
import os.path as osp

import pytest
import torch

import mmfusion  # noqa: F401
from mmfusion.testing import spawn_ranks
from mmfusion.utils import set_unique_run_name
from mmfusion.utils.checkpoint import load_checkpoint_file

DEMO = 'configs/bdlfusion/bdlfusion_demo.py'


def bdl_test_cfg(repo_root, msrs_mini, work_dir, max_iters, **extra):
    from mmengine.config import Config

    from mmfusion.testing import tiny_segmentor
    cfg = Config.fromfile(osp.join(repo_root, DEMO))
    cfg.work_dir = str(work_dir)
    cfg.model.task.model = tiny_segmentor(9, 3)
    cfg.model.fusion_net = dict(type='DRDBFusionNet')
    small = [
        dict(type='LoadPairedImageFromFile'),
        dict(type='mmseg.LoadAnnotations'),
        dict(
            type='RandomResize',
            scale=(64, 48),
            ratio_range=(1., 1.),
            keep_ratio=True),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PackFusionInputs')
    ]
    for loader in (cfg.train_dataloader,
                   cfg.train_cfg.extra_dataloaders.upper):
        loader.dataset.data_root = msrs_mini
        loader.dataset.indices = 8
        loader.dataset.pipeline = small
    cfg.train_cfg.phases = [
        dict(name='lower', iters=2),
        dict(name='upper', iters=1, extra_batches=dict(upper=1))
    ]
    cfg.train_cfg.max_iters = max_iters
    cfg.train_cfg.val_interval = 1000
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.test_cfg = cfg.test_dataloader = cfg.test_evaluator = None
    cfg.default_hooks.checkpoint.interval = max_iters
    cfg.default_hooks.logger.interval = 1
    cfg.custom_hooks = [dict(type='RNGStateHook')]
    cfg.randomness = dict(seed=11)
    set_unique_run_name(cfg, osp.basename(str(work_dir)))
    cfg.merge_from_dict(extra)
    return cfg


def _worker(rank, repo_root, msrs_mini, work_dir):
    from mmfusion.engine.runner import build_runner
    runner = build_runner(
        bdl_test_cfg(repo_root, msrs_mini, work_dir, 6, launcher='pytorch'))
    runner.train()
    model = runner.model.module
    params = {k: v.detach().cpu() for k, v in model.named_parameters()}
    torch.save(dict(params=params), os.path.join(work_dir, f'rank{rank}.pth'))


@pytest.mark.slow
def test_bdlfusion_demo_ddp_identical_across_ranks(repo_root, msrs_mini,
                                                   tmp_path):
    spawn_ranks(_worker, 2, repo_root, msrs_mini, str(tmp_path))
    r0 = torch.load(tmp_path / 'rank0.pth')['params']
    r1 = torch.load(tmp_path / 'rank1.pth')['params']
    assert r0.keys() == r1.keys()
    for part in ('fusion_net.', 'discriminator.', 'task.'):
        assert any(k.startswith(part) for k in r0), part
    for k in r0:
        assert torch.equal(r0[k], r1[k]), k
    ckpt = load_checkpoint_file(
        str(tmp_path / 'iter_6.pth'), map_location='cpu')
    assert set(ckpt['optimizer']) == {'fusion_net', 'discriminator', 'task'}
