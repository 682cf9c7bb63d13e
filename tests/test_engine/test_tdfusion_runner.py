"""TDFusion through the real Runner: the phased loop, checkpoints with all
three networks and the phase, exact resume."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmfusion.engine.runner import build_runner
from mmfusion.testing import check_exact_resume, tiny_segmentor
from mmfusion.utils import set_unique_run_name
from mmfusion.utils.checkpoint import load_checkpoint_file

DEMO = 'configs/tdfusion/tdfusion_demo.py'


def tdfusion_test_cfg(repo_root, msrs_mini, work_dir, max_iters, **extra):
    """The demo config on shared data with an even smaller task and crops:
    cycles of 2 meta iterations (2 batches each) and 2 fusion iterations."""
    cfg = Config.fromfile(osp.join(repo_root, DEMO))
    cfg.work_dir = str(work_dir)
    cfg.model.task.model = tiny_segmentor(9, 1)
    cfg.model.fusion_crop_size = (40, 40)
    cfg.model.task_input_size = (64, 64)
    cfg.train_dataloader.dataset.data_root = msrs_mini
    cfg.train_dataloader.dataset.indices = 6
    cfg.train_cfg.phases = [
        dict(name='meta', iters=2, batches_per_iter=2),
        dict(name='fusion', iters=2)
    ]
    cfg.train_cfg.max_iters = max_iters
    cfg.train_cfg.val_interval = 1000
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.test_cfg = cfg.test_dataloader = cfg.test_evaluator = None
    cfg.default_hooks.checkpoint.interval = max_iters
    cfg.default_hooks.logger.interval = 1
    cfg.custom_hooks = [dict(type='RNGStateHook')]
    cfg.randomness = dict(seed=7)
    set_unique_run_name(cfg, osp.basename(str(work_dir)))
    cfg.merge_from_dict(extra)
    return cfg


def _params(runner):
    return {k: v.detach().clone() for k, v in runner.model.named_parameters()}


@pytest.mark.slow
def test_resume_mid_cycle_equals_uninterrupted(repo_root, msrs_mini, tmp_path):
    n = 3  # stops inside the first fusion phase (iterations: M M F | F ...)
    run = check_exact_resume(
        lambda work_dir, iters, **extra: tdfusion_test_cfg(
            repo_root, msrs_mini, work_dir, iters, **extra), tmp_path, n)
    ckpt = load_checkpoint_file(run.checkpoint)
    keys = ckpt['state_dict'].keys()
    for part in ('fusion_net.', 'loss_generator.', 'task.'):
        assert any(k.startswith(part) for k in keys), part
    assert set(ckpt['optimizer']) == {'fusion_net', 'loss_generator', 'task'}
    assert ckpt['message_hub']['runtime_info']['phase'] == 'fusion'
    # every network moved during training
    expected = _params(run.full)
    init = _params(
        build_runner(
            tdfusion_test_cfg(repo_root, msrs_mini, tmp_path / 'init', 1)))
    for part in ('fusion_net.', 'loss_generator.', 'task.'):
        assert any(not torch.equal(init[k], expected[k]) for k in expected
                   if k.startswith(part)), part


@pytest.mark.slow
def test_detection_metrics_through_the_test_loop(repo_root, msrs_mini,
                                                 tmp_path):
    """``tools/test.py`` on a detection config: the fused images are scored
    by the fusion metrics and the task's detections by VOC mAP@0.5 and COCO
    mAP (from the packed boxes, no json), all from the config's
    ``test_evaluator`` list."""
    from mmfusion.testing import tiny_detector
    cfg = Config.fromfile(
        osp.join(repo_root, 'configs/tdfusion/retinanet_msrs_det.py'))
    cfg.work_dir = str(tmp_path)
    detector = tiny_detector(3)
    detector['test_cfg']['score_thr'] = 0.0  # untrained: keep every box
    cfg.model.task = dict(
        type='TaskAdapter', model=detector, input_format='rgb')
    cfg.test_dataloader.dataset.data_root = msrs_mini
    cfg.test_dataloader.dataset.indices = 3
    cfg.test_dataloader.num_workers = 0
    cfg.test_dataloader.persistent_workers = False
    cfg.custom_hooks = []
    set_unique_run_name(cfg, 'det_test_loop')
    torch.manual_seed(0)
    metrics = build_runner(cfg).test()
    for key in ('fusion/EN', 'fusion/VIF', 'fusion/Qabf', 'pascal_voc/mAP',
                'coco/bbox_mAP', 'coco/bbox_mAP_50'):
        assert key in metrics, (key, sorted(metrics))
    assert 0 <= metrics['pascal_voc/mAP'] < 1  # an untrained detector
    assert 0 <= metrics['coco/bbox_mAP'] < 1
