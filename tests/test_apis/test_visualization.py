# Copyright (c) mmfusion contributors. All rights reserved.
"""VIS | IR | fused (| task) grids: the helpers and FusionVisualizationHook
in a real test run (work dir + every configured vis backend)."""
import glob
import os.path as osp
import uuid

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import VISBACKENDS
from mmengine.runner import Runner
from mmengine.structures import InstanceData, PixelData
from mmengine.visualization import BaseVisBackend

from mmfusion.registry import HOOKS
from mmfusion.structures import FusionDataSample
from mmfusion.visualization import (make_fusion_grid, render_task_prediction,
                                    sample_fusion_grid)

DEMO = 'configs/seafusion/seafusion_content_demo.py'
RECORDED = []


@VISBACKENDS.register_module(force=True)
class _RecordingVisBackend(BaseVisBackend):
    """Stands for TensorBoard / W&B: records what it is sent."""

    @property
    def experiment(self):
        return self

    def _init_env(self):
        pass

    def add_image(self, name, image, step=0, **kwargs):
        RECORDED.append((name, image.shape, image.dtype, step))


def _sample(msrs_mini, name='00671D'):
    sample = FusionDataSample(
        metainfo=dict(
            img_id=name,
            ir_path=osp.join(msrs_mini, 'test', 'ir', name + '.png'),
            vis_path=osp.join(msrs_mini, 'test', 'vi', name + '.png')))
    sample.pred_fused = PixelData(data=torch.rand(3, 480, 640))
    return sample


def test_grid_panels_and_task_predictions(msrs_mini):
    sample = _sample(msrs_mini)
    grid = sample_fusion_grid(sample)
    assert grid.shape == (480, 3 * 640 + 2 * 4, 3) and grid.dtype == np.uint8
    vis = cv2.imread(sample.vis_path)[..., ::-1]
    # the first panel is the VIS image (its title covers the top-left)
    np.testing.assert_array_equal(grid[100:, :640], vis[100:])
    assert (grid[:, 640:644] == 255).all()  # separator
    seg = torch.zeros(1, 480, 640, dtype=torch.long)
    seg[:, 100:200, 100:300] = 2
    sample.pred_sem_seg = PixelData(data=seg)
    grid = sample_fusion_grid(sample, scale=0.5)
    assert grid.shape == (240, 4 * 320 + 3 * 4, 3)
    del sample.pred_sem_seg
    sample.pred_instances = InstanceData(
        bboxes=torch.tensor([[10., 20., 200., 220.], [0., 0., 5., 5.]]),
        labels=torch.tensor([1, 0]),
        scores=torch.tensor([0.9, 0.1]))
    fused = np.zeros((480, 640, 3), np.uint8)
    boxes = render_task_prediction(fused, sample, ['person', 'car'])
    assert boxes[20, 100].any() and not boxes[300, 300].any()
    assert not boxes[2, 2].any()  # below the score threshold
    assert render_task_prediction(fused, _sample(msrs_mini)) is None
    with pytest.raises(KeyError, match='pred_fused'):
        sample_fusion_grid(FusionDataSample())
    mixed = make_fusion_grid([fused, np.zeros((240, 320), np.uint8)],
                             ['a', 'b'])
    assert mixed.shape == (480, 1284, 3)


@pytest.mark.slow
def test_hook_writes_work_dir_and_backends(repo_root, msrs_mini, tmp_path):
    assert HOOKS.get('FusionVisualizationHook') is not None
    cfg = Config.fromfile(osp.join(repo_root, DEMO))
    cfg.work_dir = str(tmp_path)
    cfg.test_dataloader.dataset.data_root = msrs_mini
    cfg.test_dataloader.dataset.indices = 2
    cfg.test_evaluator = [dict(type='FusionMetric', fusion_metrics='EN')]
    cfg.custom_hooks = [
        dict(type='FusionVisualizationHook', max_samples=1, scale=0.5)
    ]
    name = f'vis_hook_{uuid.uuid4().hex[:8]}'
    cfg.experiment_name = name
    cfg.visualizer = dict(
        type='Visualizer',
        name=name,
        vis_backends=[
            dict(type='LocalVisBackend'),
            dict(type='_RecordingVisBackend', save_dir=str(tmp_path / 'rec'))
        ])
    RECORDED.clear()
    Runner.from_cfg(cfg).test()
    grids = glob.glob(str(tmp_path / 'vis_grids' / 'test' / '*.png'))
    assert len(grids) == 1  # max_samples
    grid = cv2.imread(grids[0])
    assert grid.shape == (240, 3 * 320 + 2 * 4, 3)
    local = glob.glob(
        str(tmp_path / '*' / 'vis_data' / 'vis_image' / 'test_fusion_*.png'))
    assert len(local) == 1
    assert len(RECORDED) == 1
    rec_name, shape, dtype, _ = RECORDED[0]
    assert rec_name.startswith('test_fusion_') and shape == grid.shape
    assert dtype == np.uint8


def test_hook_to_tensorboard(repo_root, msrs_mini, tmp_path):
    pytest.importorskip('tensorboard')
    cfg = Config.fromfile(osp.join(repo_root, DEMO))
    cfg.work_dir = str(tmp_path)
    cfg.test_dataloader.dataset.data_root = msrs_mini
    cfg.test_dataloader.dataset.indices = 1
    cfg.test_evaluator = [dict(type='FusionMetric', fusion_metrics='EN')]
    cfg.custom_hooks = [dict(type='FusionVisualizationHook', scale=0.25)]
    name = f'vis_tb_{uuid.uuid4().hex[:8]}'
    cfg.experiment_name = name
    cfg.visualizer = dict(
        type='Visualizer',
        name=name,
        vis_backends=[dict(type='TensorboardVisBackend')])
    Runner.from_cfg(cfg).test()
    assert glob.glob(
        str(tmp_path / '**' / 'events.out.tfevents.*'), recursive=True)
