"""FusionVisualizer: an mmengine Visualizer registered in mmfusion's
VISUALIZERS that draws VIS | IR | fused (| task) grids and sends them to
any backend; the visualization hook draws with it."""
import glob
import os.path as osp
import uuid

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from mmengine.structures import PixelData
from mmengine.visualization import Visualizer

from mmfusion.registry import VISUALIZERS
from mmfusion.structures import FusionDataSample
from mmfusion.visualization import FusionVisualizer, sample_fusion_grid

DEMO = 'configs/seafusion/seafusion_content_demo.py'


def _sample(msrs_mini, name='00671D', seg=False):
    sample = FusionDataSample(
        metainfo=dict(
            img_id=name,
            ir_path=osp.join(msrs_mini, 'test', 'ir', name + '.png'),
            vis_path=osp.join(msrs_mini, 'test', 'vi', name + '.png')))
    sample.pred_fused = PixelData(
        data=torch.rand(
            3, 480, 640, generator=torch.Generator().manual_seed(0)))
    if seg:
        sample.pred_sem_seg = PixelData(
            data=torch.randint(0, 9, (1, 480, 640)))
    return sample


def _build(tmp_path, **kwargs):
    name = f'fv_{uuid.uuid4().hex[:8]}'
    return VISUALIZERS.build(
        dict(
            type='FusionVisualizer',
            name=name,
            vis_backends=[dict(type='LocalVisBackend')],
            save_dir=str(tmp_path),
            **kwargs))


def test_registered_visualizer_draws_the_grid(msrs_mini, tmp_path):
    vis = _build(tmp_path, scale=0.5)
    assert isinstance(vis, Visualizer) and isinstance(vis, FusionVisualizer)
    assert VISUALIZERS.get('FusionVisualizer') is FusionVisualizer
    sample = _sample(msrs_mini, seg=True)
    # to the backends (LocalVisBackend: vis_data/vis_image/{name}_{step})
    vis.add_datasample('pair', data_sample=sample, step=3)
    grid = vis.get_image()
    assert grid.shape == (240, 4 * 320 + 3 * 4, 3)  # VIS | IR | fused | task
    np.testing.assert_array_equal(grid, sample_fusion_grid(sample, scale=0.5))
    saved = glob.glob(str(tmp_path / '**' / 'pair_3.png'), recursive=True)
    assert len(saved) == 1
    np.testing.assert_array_equal(cv2.imread(saved[0])[..., ::-1], grid)
    # to a file instead; without the task panel
    out = tmp_path / 'out' / 'pair.png'
    vis.add_datasample(
        'pair', data_sample=sample, draw_pred=False, out_file=str(out))
    assert cv2.imread(str(out)).shape == (240, 3 * 320 + 2 * 4, 3)
    assert len(glob.glob(str(tmp_path / '**' / 'pair_*.png'),
                         recursive=True)) == 1


def test_sources_from_memory(msrs_mini, tmp_path):
    """An inferencer holding the pair in memory passes it in (RGB VIS)."""
    vis = _build(tmp_path)
    sample = _sample(msrs_mini)
    rgb = cv2.imread(sample.vis_path)[..., ::-1]
    ir = cv2.imread(sample.ir_path, cv2.IMREAD_GRAYSCALE)
    from_paths = vis.draw_fusion_grid(sample)
    sample.set_metainfo(dict(vis_path=None, ir_path=None))
    out = tmp_path / 'mem.png'
    vis.add_datasample('mem', rgb, sample, ir=ir, out_file=str(out))
    np.testing.assert_array_equal(vis.get_image(), from_paths)
    with pytest.raises(ValueError, match='data_sample'):
        vis.add_datasample('none', rgb)


@pytest.mark.slow
def test_hook_uses_the_runners_fusion_visualizer(repo_root, msrs_mini,
                                                 tmp_path, monkeypatch):
    cfg = Config.fromfile(osp.join(repo_root, DEMO))
    cfg.work_dir = str(tmp_path)
    cfg.test_dataloader.dataset.data_root = msrs_mini
    cfg.test_dataloader.dataset.indices = 1
    cfg.test_evaluator = [dict(type='FusionMetric', fusion_metrics='EN')]
    cfg.custom_hooks = [dict(type='FusionVisualizationHook', scale=0.5)]
    name = f'vis_hook_{uuid.uuid4().hex[:8]}'
    cfg.experiment_name = name
    cfg.visualizer = dict(
        type='FusionVisualizer',
        name=name,
        vis_backends=[dict(type='LocalVisBackend')])
    drawn = []
    draw = FusionVisualizer.draw_fusion_grid

    def spy(self, *args, **kwargs):
        drawn.append(self)
        return draw(self, *args, **kwargs)

    monkeypatch.setattr(FusionVisualizer, 'draw_fusion_grid', spy)
    runner = Runner.from_cfg(cfg)
    runner.test()
    assert drawn == [runner.visualizer]
    grids = glob.glob(str(tmp_path / 'vis_grids' / 'test' / '*.png'))
    local = glob.glob(
        str(tmp_path / '*' / 'vis_data' / 'vis_image' / 'test_fusion_*.png'))
    assert len(grids) == len(local) == 1
    np.testing.assert_array_equal(cv2.imread(grids[0]), cv2.imread(local[0]))
