"""The first vertical slice through the real mmengine Runner on real pairs:
train, validate (fused images + metrics), checkpoint and resume exactly."""
import glob
import json
import os
import os.path as osp

import pytest
from mmengine.config import Config

from mmfusion.engine.runner import build_runner
from mmfusion.models import FusionModel, SeAFusionNet
from mmfusion.testing import check_exact_resume
from mmfusion.utils import set_unique_run_name

DEMO = 'configs/seafusion/seafusion_content_demo.py'


def _cfg(repo_root, msrs_mini, work_dir, max_iters, **extra):
    cfg = Config.fromfile(osp.join(repo_root, DEMO))
    cfg.work_dir = str(work_dir)
    cfg.train_dataloader.dataset.data_root = msrs_mini
    cfg.train_dataloader.dataset.pipeline[3].crop_size = (64, 64)
    cfg.val_dataloader.dataset.data_root = msrs_mini
    cfg.val_dataloader.dataset.indices = 2
    cfg.test_dataloader = cfg.val_dataloader
    cfg.train_cfg.max_iters = max_iters
    cfg.train_cfg.val_interval = max_iters
    cfg.default_hooks.checkpoint.interval = max_iters
    cfg.default_hooks.logger.interval = 1
    cfg.randomness = dict(seed=42)
    # mmengine keeps global Visualizer/MessageHub instances by name: give
    # every runner of the session its own
    set_unique_run_name(cfg, osp.basename(str(work_dir)))
    cfg.merge_from_dict(extra)
    return cfg


def test_config_builds_by_type_name(repo_root, msrs_mini, tmp_path):
    cfg = _cfg(repo_root, msrs_mini, tmp_path, 2)
    assert cfg.default_scope == 'mmfusion'
    runner = build_runner(cfg)
    assert isinstance(runner.model, FusionModel)
    assert isinstance(runner.model.fusion_net, SeAFusionNet)
    assert type(runner.train_dataloader.dataset).__name__ == 'MSRSDataset'


@pytest.mark.slow
def test_train_validate_writes_fused_images_and_metrics(
        repo_root, msrs_mini, tmp_path):
    runner = build_runner(_cfg(repo_root, msrs_mini, tmp_path, 2))
    runner.train()
    fused = sorted(glob.glob(str(tmp_path / 'fused/val/iter_2/*.png')))
    first_two = sorted(os.listdir(osp.join(msrs_mini, 'test', 'ir')))[:2]
    assert [osp.basename(f) for f in fused] == first_two
    import mmcv
    img = mmcv.imread(fused[0])
    assert img.shape == (480, 640, 3)
    scalars = glob.glob(str(tmp_path / '*/vis_data/scalars.json'))
    lines = [json.loads(line) for line in open(scalars[0])]
    val = [line for line in lines if 'fusion/EN' in line][-1]
    assert 0 < val['fusion/EN'] <= 8 and val['fusion/SD'] > 0
    assert val['fusion/SF'] > 0
    assert osp.isfile(tmp_path / 'iter_2.pth')


@pytest.mark.slow
def test_resume_equals_uninterrupted(repo_root, msrs_mini, tmp_path):
    no_val = dict(val_cfg=None, val_dataloader=None, val_evaluator=None)
    run = check_exact_resume(
        lambda work_dir, iters, **extra: _cfg(repo_root, msrs_mini, work_dir,
                                              iters, **no_val, **extra),
        tmp_path, 3)
    resumed, n = run.resumed, 3
    # the optimiser state was restored too (Adam moments of 2n steps)
    state = resumed.optim_wrapper.optimizer.state_dict()['state']
    assert int(next(iter(state.values()))['step']) == 2 * n
