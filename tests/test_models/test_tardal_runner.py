"""TarDAL in the Runner: the demo config trains (tools/train.py), exact
resume, 2-process DDP (every network identical on both ranks), ``--amp``
(every network's wrapper an AMP one, the steps under autocast)."""
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

import mmfusion  # noqa: F401
from mmfusion.engine.optimizers import CPUAmpOptimWrapper, enable_amp
from mmfusion.engine.runner import build_runner
from mmfusion.testing import check_exact_resume, spawn_ranks, tiny_detector
from mmfusion.utils import set_unique_run_name
from mmfusion.utils.checkpoint import load_checkpoint_file

DEMO = 'configs/tardal/tardal_demo.py'
NETS = ('fusion_net', 'task', 'target_discriminator', 'detail_discriminator')
SIZE = 48


def tardal_test_cfg(repo_root, msrs_mini, work_dir, max_iters, **extra):
    """The demo config on 8 pairs at 48x48 with narrow networks: one
    warm-up iteration, then joint ones."""
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(repo_root, DEMO))
    cfg.work_dir = str(work_dir)
    cfg.model.fusion_net = dict(type='TarDALGenerator', dim=4, depth=2)
    for name in ('target_discriminator', 'detail_discriminator'):
        cfg.model[name] = dict(
            type='TarDALDiscriminator', dim=4, size=(SIZE, SIZE))
    cfg.model.task.model = tiny_detector(3)
    cfg.train_dataloader.dataset.data_root = msrs_mini
    cfg.train_dataloader.dataset.indices = 8
    cfg.train_dataloader.dataset.pipeline = [
        dict(type='LoadPairedImageFromFile'),
        dict(type='mmdet.LoadAnnotations', with_bbox=True, with_label=True),
        dict(type='mmdet.Resize', scale=(SIZE, SIZE), keep_ratio=False),
        dict(type='mmdet.RandomFlip', prob=0.5),
        dict(type='PackFusionInputs'),
    ]
    cfg.train_cfg.phases = [
        dict(name='warmup', iters=1),
        dict(name='joint', iters=max(max_iters - 1, 1)),
    ]
    cfg.train_cfg.max_iters = max_iters
    cfg.train_cfg.val_interval = 1000
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.test_cfg = cfg.test_dataloader = cfg.test_evaluator = None
    cfg.default_hooks.checkpoint.interval = max_iters
    cfg.default_hooks.logger.interval = 1
    cfg.custom_hooks = [dict(type='RNGStateHook')]
    cfg.randomness = dict(seed=5)
    set_unique_run_name(cfg, osp.basename(str(work_dir)))
    cfg.merge_from_dict(extra)
    return cfg


@pytest.mark.slow
def test_tardal_exact_resume(repo_root, msrs_mini, tmp_path):

    def make(work_dir, max_iters, **extra):
        cfg = tardal_test_cfg(repo_root, msrs_mini, work_dir, 4, **extra)
        cfg.train_cfg.max_iters = max_iters
        return cfg

    run = check_exact_resume(make, tmp_path, 2)
    ckpt = load_checkpoint_file(run.checkpoint, map_location='cpu')
    assert set(ckpt['optimizer']) == set(NETS)
    assert ckpt['message_hub']['runtime_info']['phase'] == 'joint'


def _worker(rank, repo_root, msrs_mini, work_dir):
    runner = build_runner(
        tardal_test_cfg(repo_root, msrs_mini, work_dir, 3, launcher='pytorch'))
    runner.train()
    model = runner.model.module
    params = {k: v.detach().cpu() for k, v in model.named_parameters()}
    torch.save(dict(params=params), os.path.join(work_dir, f'rank{rank}.pth'))


@pytest.mark.slow
def test_tardal_ddp_identical_across_ranks(repo_root, msrs_mini, tmp_path):
    spawn_ranks(_worker, 2, repo_root, msrs_mini, str(tmp_path))
    r0 = torch.load(tmp_path / 'rank0.pth')['params']
    r1 = torch.load(tmp_path / 'rank1.pth')['params']
    assert r0.keys() == r1.keys()
    for part in NETS:
        assert any(k.startswith(part + '.') for k in r0), part
    for k in r0:
        assert torch.equal(r0[k], r1[k]), k


def test_tardal_amp(repo_root, msrs_mini, tmp_path):
    cfg = tardal_test_cfg(repo_root, msrs_mini, tmp_path, 2)
    cfg.optim_wrapper = enable_amp(cfg.optim_wrapper)
    runner = build_runner(cfg)
    before = {
        k: v.detach().clone()
        for k, v in runner.model.state_dict().items()
    }
    seen = set()
    runner.model.fusion_net.register_forward_hook(
        lambda m, a, out: seen.add(out.dtype))
    runner.train()
    assert set(runner.optim_wrapper.keys()) == set(NETS)
    for name, wrapper in runner.optim_wrapper.items():
        assert isinstance(wrapper, CPUAmpOptimWrapper), name
    # the train-mode forward under autocast, the eval-mode ones (detector
    # input, critics' fakes) outside any wrapper's context
    assert torch.bfloat16 in seen
    state = runner.model.state_dict()
    assert all(
        torch.isfinite(v).all() for v in state.values()
        if v.is_floating_point())
    assert runner.model.nonfinite_guard.skipped == 0
    for name in NETS:
        assert any(
            not torch.equal(before[k], state[k]) for k in state
            if k.startswith(name + '.') and state[k].is_floating_point()), name


@pytest.mark.slow
def test_train_py_on_the_demo_config(repo_root, tmp_path):
    """``tools/train.py configs/tardal/tardal_demo.py`` as shipped (the
    bundled pairs), shortened to 2 iterations; then ``--amp``."""
    for amp in ([], ['--amp']):
        work = tmp_path / ('amp' if amp else 'fp32')
        cmd = [
            sys.executable, 'tools/train.py', DEMO, '--work-dir',
            str(work), *amp, '--cfg-options', 'train_cfg.max_iters=2',
            'train_cfg.phases.0.iters=1', 'train_cfg.val_interval=2',
            'default_hooks.checkpoint.interval=2'
        ]
        env = dict(os.environ, PYTHONPATH=repo_root)
        out = subprocess.run(
            cmd, cwd=repo_root, env=env, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr[-3000:]
        assert (work / 'iter_2.pth').is_file()
