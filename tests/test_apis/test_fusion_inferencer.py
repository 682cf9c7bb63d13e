# Copyright (c) mmfusion contributors. All rights reserved.
"""FusionInferencer: inference gives exactly what validation/testing saves."""
import os
import os.path as osp
import uuid

import cv2
import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner, save_checkpoint

from mmfusion.apis import FusionInferencer, collect_pairs
from mmfusion.registry import INFERENCERS, MODELS

DEMO = 'configs/seafusion/seafusion_content_demo.py'


@pytest.fixture(scope='module')
def checkpoint(repo_root, tmp_path_factory):
    """A freshly built (seeded) demo model, saved as a checkpoint."""
    init_default_scope('mmfusion')
    torch.manual_seed(0)
    cfg = Config.fromfile(osp.join(repo_root, DEMO))
    model = MODELS.build(cfg.model)
    model.init_weights()
    path = str(tmp_path_factory.mktemp('ckpt') / 'demo.pth')
    save_checkpoint({'state_dict': model.state_dict(), 'meta': {}}, path)
    return path


@pytest.fixture(scope='module')
def fuser(repo_root, checkpoint):
    return FusionInferencer(
        osp.join(repo_root, DEMO),
        checkpoint,
        device='cpu',
        show_progress=False)


def _pair(msrs_mini, name='00357D'):
    return (osp.join(msrs_mini, 'test', 'ir', name + '.png'),
            osp.join(msrs_mini, 'test', 'vi', name + '.png'))


@pytest.mark.slow
def test_inference_equals_testing(repo_root, msrs_mini, checkpoint, fuser,
                                  tmp_path):
    cfg = Config.fromfile(osp.join(repo_root, DEMO))
    cfg.work_dir = str(tmp_path / 'work')
    cfg.test_dataloader.dataset.data_root = msrs_mini
    cfg.test_dataloader.dataset.indices = 2
    cfg.test_evaluator = dict(type='FusionMetric', fusion_metrics=['EN'])
    cfg.load_from = checkpoint
    name = f'inferencer_{uuid.uuid4().hex[:8]}'
    cfg.experiment_name = name
    cfg.visualizer.name = name
    Runner.from_cfg(cfg).test()
    saved = sorted(os.listdir(tmp_path / 'work' / 'fused' / 'test'))
    assert len(saved) == 2
    # the same two pairs as folders (plus an IR image without partner)
    for modality in ('ir', 'vi'):
        os.makedirs(tmp_path / modality)
        for fname in saved:
            os.symlink(
                osp.join(msrs_mini, 'test', modality, fname),
                tmp_path / modality / fname)
    # (one of the folder's own: the bundled set has 4 test pairs)
    extra = sorted(
        set(os.listdir(osp.join(msrs_mini, 'test', 'ir'))) - set(saved))[0]
    os.symlink(
        osp.join(msrs_mini, 'test', 'ir', extra), tmp_path / 'ir' / extra)
    with pytest.warns(UserWarning, match='without a partner'):
        out = fuser(
            str(tmp_path / 'ir'),
            str(tmp_path / 'vi'),
            out_dir=str(tmp_path / 'fused'))
    assert [p['img_id'] for p in out['predictions']
            ] == [osp.splitext(f)[0] for f in saved]
    for fname in saved:
        tested = mmcv.imread(str(tmp_path / 'work' / 'fused' / 'test' / fname))
        inferred = mmcv.imread(str(tmp_path / 'fused' / fname))
        np.testing.assert_array_equal(inferred, tested)
    assert out['predictions'][0]['fused'].std() > 0


@pytest.mark.slow
def test_arrays_files_and_registry(msrs_mini, repo_root, checkpoint, fuser):
    ir_path, vis_path = _pair(msrs_mini)
    from_files = fuser(ir_path, vis_path)['predictions'][0]
    assert from_files['img_id'] == '00357D'
    assert from_files['fused'].shape == (480, 640, 3)
    assert from_files['fused'].dtype == np.uint8
    assert from_files['fused_y'].shape == (480, 640)
    from_arrays = fuser(
        cv2.imread(ir_path, cv2.IMREAD_GRAYSCALE),
        cv2.imread(vis_path))['predictions'][0]
    np.testing.assert_array_equal(from_arrays['fused'], from_files['fused'])
    built = INFERENCERS.build(
        dict(
            type='FusionInferencer',
            model=osp.join(repo_root, DEMO),
            weights=checkpoint,
            device='cpu',
            show_progress=False))
    again = built([ir_path], [vis_path], return_datasamples=True)
    sample = again['predictions'][0]
    assert tuple(sample.pred_fused.shape) == (480, 640)
    assert sample.metainfo['ir_path'] == ir_path


@pytest.mark.slow
def test_colour_norm_and_raw_outputs(msrs_mini, repo_root, checkpoint,
                                     tmp_path):
    ir_path, vis_path = _pair(msrs_mini)
    fuser = FusionInferencer(
        osp.join(repo_root, DEMO),
        checkpoint,
        device='cpu',
        colour='gray',
        output_norm='minmax',
        show_progress=False)
    out = fuser(
        ir_path,
        vis_path,
        out_dir=str(tmp_path),
        raw='npy',
        vis_out_dir=str(tmp_path / 'grids'))['predictions'][0]
    png = cv2.imread(out['out_file'], cv2.IMREAD_UNCHANGED)
    assert png.ndim == 2 and png.min() == 0 and png.max() == 255
    raw = np.load(out['raw_file'])
    assert raw.shape == (480, 640, 3) and raw.dtype == np.float32
    np.testing.assert_array_equal(np.round(raw[..., 0] * 255), png)
    grid = cv2.imread(str(tmp_path / 'grids' / '00357D.png'))
    assert grid.shape[0] == 480 and grid.shape[1] > 3 * 640
    out = fuser(
        ir_path,
        vis_path,
        out_dir=str(tmp_path / 'y'),
        raw='png16',
        raw_channels='y')['predictions'][0]
    y16 = cv2.imread(out['raw_file'], cv2.IMREAD_UNCHANGED)
    assert y16.dtype == np.uint16 and y16.shape == (480, 640)
    np.testing.assert_allclose(y16 / 65535., out['fused_y'], atol=1e-5)
    with pytest.raises(ValueError, match='colour must be one of'):
        FusionInferencer(
            osp.join(repo_root, DEMO),
            checkpoint,
            device='cpu',
            colour='sepia')
    with pytest.raises(ValueError, match='raw must be one of'):
        fuser(ir_path, vis_path, out_dir=str(tmp_path), raw='tiff')


def test_bad_pairs(msrs_mini, fuser, tmp_path):
    ir_path, vis_path = _pair(msrs_mini)
    small = str(tmp_path / 'small.png')
    cv2.imwrite(small, cv2.resize(cv2.imread(vis_path), (320, 240)))
    with pytest.raises(ValueError, match=r'small\.png is 320x240'):
        fuser(ir_path, small)
    with pytest.raises(ValueError, match='both be files or both be folders'):
        collect_pairs(ir_path, osp.dirname(vis_path))
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(ValueError, match='no IR/VIS pairs'):
        collect_pairs(str(empty), osp.dirname(vis_path))


@pytest.mark.slow
def test_grids_through_the_fusion_visualizer(msrs_mini, repo_root, checkpoint,
                                             tmp_path):
    """vis_out_dir's grids are drawn by one FusionVisualizer, built on first
    use: VIS | IR | fused, the same for files and arrays (BGR, BGRA) of a
    pair, written whole (no temporary file left)."""
    from mmfusion.visualization import FusionVisualizer, make_fusion_grid
    ir_path, vis_path = _pair(msrs_mini)
    fuser = FusionInferencer(
        osp.join(repo_root, DEMO),
        checkpoint,
        device='cpu',
        show_progress=False)
    fused = fuser(ir_path, vis_path)['predictions'][0]['fused']
    assert fuser.visualizer is None  # no grids asked for: none built
    out = fuser(ir_path, vis_path, vis_out_dir=str(tmp_path / 'files'))
    drawer = fuser.visualizer
    assert isinstance(drawer, FusionVisualizer)
    path = str(tmp_path / 'files' / '00357D.png')
    assert out['visualization'] == [path]
    assert os.listdir(tmp_path / 'files') == ['00357D.png']
    expected = make_fusion_grid([
        mmcv.imread(vis_path, channel_order='rgb'),
        mmcv.imread(ir_path, 'grayscale'), fused
    ], ['VIS', 'IR', 'fused'])
    np.testing.assert_array_equal(
        mmcv.imread(path, channel_order='rgb'), expected)
    ir = cv2.imread(ir_path, cv2.IMREAD_GRAYSCALE)
    vis = cv2.imread(vis_path)
    for kind, vis_img in (('bgr', vis), ('bgra',
                                         cv2.cvtColor(vis,
                                                      cv2.COLOR_BGR2BGRA))):
        out = fuser(ir, vis_img, vis_out_dir=str(tmp_path / kind))
        assert out['visualization'] == [str(tmp_path / kind / '000000.png')]
        with open(out['visualization'][0], 'rb') as f, open(path, 'rb') as g:
            assert f.read() == g.read(), kind
    assert fuser.visualizer is drawer  # built once
