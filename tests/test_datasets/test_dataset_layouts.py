# Copyright (c) mmfusion contributors. All rights reserved.
"""Every supported dataset, in its documented layout, through its config.

MSRS, RoadScene and TNO are real pairs: those of ``../shared/testdata`` where
present, else the bundled ``data/msrs_demo`` and ``tests/data/{roadscene,
tno}_mini`` (``tests/conftest.py``); FMB, M3FD and LLVIP are the layout
fixtures of ``tests/data`` (see ``tests/data/make_layout_fixtures.py``).
"""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmfusion.datasets import (FMBDataset, LLVIPDataset, M3FDDataset,
                               MSRSDataset)
from mmfusion.registry import DATASETS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = osp.join(REPO, 'configs', '_base_', 'datasets')
DATA = osp.join(REPO, 'tests', 'data')


def _datasets(config, data_root, phases=('train', 'val'), **overrides):
    init_default_scope('mmfusion')
    cfg = Config.fromfile(osp.join(CONFIGS, config))
    built = []
    for phase in phases:
        ds_cfg = cfg[f'{phase}_dataloader'].dataset
        ds_cfg.data_root = data_root
        ds_cfg.update(overrides.get(phase, {}))
        built.append(DATASETS.build(ds_cfg))
    return built


def test_msrs_seg_and_det_labels_from_one_class(msrs_mini, msrs_mini_pairs):
    ds = MSRSDataset(
        data_root=msrs_mini,
        data_prefix=dict(
            ir='train/ir',
            vis='train/vi',
            seg='train/Segmentation_labels',
            det='train/Detection_labels'))
    assert len(ds) == msrs_mini_pairs['train']
    info = ds.get_data_info(0)
    assert info['seg_map_path'].endswith('00004N.png')
    assert info['det_path'].endswith(
        osp.join('Detection_labels', '00004N.txt'))
    assert (info['width'], info['height']) == (640, 480)
    # YOLO line "0 0.149219 0.578125 0.026562 0.043750" of 00004N
    first = info['instances'][0]
    assert first['bbox_label'] == 0 and first['ignore_flag'] == 0
    np.testing.assert_allclose(
        first['bbox'],
        [(0.149219 - 0.013281) * 640, (0.578125 - 0.021875) * 480,
         (0.149219 + 0.013281) * 640, (0.578125 + 0.021875) * 480],
        atol=1e-3)
    # both tasks: classes are the 9 segmentation ones, boxes use det_classes
    assert len(ds.metainfo['classes']) == 9
    assert ds.det_classes == ('person', 'bicycle', 'car')
    n_boxes = sum(
        len(ds.get_data_info(i)['instances']) for i in range(len(ds)))
    assert n_boxes == sum(
        len(
            open(
                osp.join(
                    msrs_mini, 'train', 'Detection_labels',
                    f'{ds.get_data_info(i)["img_id"]}.txt')).read().split()) //
        5 for i in range(len(ds)))
    # detection only: mmdet's metrics read `classes`
    det = MSRSDataset(
        data_root=msrs_mini,
        data_prefix=dict(
            ir='test/ir', vis='test/vi', det='test/Detection_labels'))
    assert det.metainfo['classes'] == ('person', 'bicycle', 'car')
    assert 'seg_map_path' not in det.get_data_info(0)


def test_msrs_det_config(msrs_mini, msrs_mini_pairs):
    train, val = _datasets('msrs_det.py', msrs_mini)
    assert (len(train), len(val)) == (msrs_mini_pairs['train'],
                                      msrs_mini_pairs['test'])
    np.random.seed(0)
    out = train[0]
    sample = out['data_samples']
    assert out['inputs'].shape[0] == 4 and out['inputs'].dtype == torch.uint8
    assert sample.gt_instances.bboxes.tensor.shape[1] == 4
    assert 'gt_sem_seg' not in sample
    val_sample = val[0]['data_samples']
    assert val_sample.scale_factor == (1.0, 1.0)
    assert len(val_sample.gt_instances) == len(
        val.get_data_info(0)['instances'])


def test_fmb_layout_and_config():
    train, val = _datasets('fmb.py', osp.join(DATA, 'fmb_mini'))
    assert (len(train), len(val)) == (2, 1)
    assert train.metainfo['classes'][0] == 'background'
    assert len(train.metainfo['classes']) == 15
    sample = val[0]['data_samples']
    ids = set(sample.gt_sem_seg.data.unique().tolist())
    assert ids == {0, 8, 255}  # Person box and an ignored region
    np.random.seed(0)
    out = train[0]
    assert out['inputs'].shape[0] == 4
    # 14-class protocol: background ignored, ids shifted down
    reduced = FMBDataset(
        data_root=osp.join(DATA, 'fmb_mini'),
        data_prefix=dict(
            ir='test/Infrared', vis='test/Visible', seg='test/Label'),
        reduce_zero_label=True,
        pipeline=[
            dict(type='LoadPairedImageFromFile'),
            dict(type='mmseg.LoadAnnotations'),
            dict(type='PackFusionInputs')
        ])
    assert len(reduced.metainfo['classes']) == 14
    assert reduced.metainfo['classes'][0] == 'Road'
    seg = reduced[0]['data_samples'].gt_sem_seg.data
    assert set(seg.unique().tolist()) == {7, 255}


def test_m3fd_layout_split_files_and_config():
    root = osp.join(DATA, 'm3fd_mini')
    train, val = _datasets('m3fd.py', root)
    assert (len(train), len(val)) == (2, 1)
    assert [train.get_data_info(i)['img_id'] for i in range(2)] == \
        ['00000', '00001']
    info = train.get_data_info(1)
    # Lamp (difficult), Truck, Motorcycle; VOC 1-based -> 0-based
    assert [i['bbox_label'] for i in info['instances']] == [4, 5, 3]
    assert [i['ignore_flag'] for i in info['instances']] == [1, 0, 0]
    assert info['instances'][1]['bbox'] == [2., 8., 22., 30.]
    assert val.get_data_info(0)['instances'] == []  # image without objects
    out = val[0]
    assert len(out['data_samples'].gt_instances) == 0
    # IR stored as 24-bit gray becomes one channel; planted box is bright
    ds = M3FDDataset(
        data_root=root,
        pipeline=[
            dict(type='LoadPairedImageFromFile'),
            dict(type='mmdet.LoadAnnotations', with_bbox=True),
            dict(type='PackFusionInputs')
        ])
    sample = ds[1]['data_samples']
    assert len(sample.gt_instances) == 2 and len(sample.ignored_instances) == 1
    x1, y1, x2, y2 = sample.gt_instances.bboxes.tensor[0].int().tolist()
    assert (ds[1]['inputs'][3, y1:y2, x1:x2] == 250).all()


def test_llvip_layout_and_config():
    train, val = _datasets('llvip.py', osp.join(DATA, 'llvip_mini'))
    assert (len(train), len(val)) == (2, 1)
    assert train.metainfo['classes'] == ('person', )
    assert [len(train.get_data_info(i)['instances'])
            for i in range(2)] == [1, 2]
    assert val.get_data_info(0)['img_id'] == '190001'
    sample = val[0]['data_samples']
    assert sample.gt_instances.labels.tolist() == [0]
    ds = LLVIPDataset(data_root=osp.join(DATA, 'llvip_mini'))
    assert ds.get_data_info(0)['vis_path'].endswith(
        osp.join('visible', 'train', '010001.jpg'))


@pytest.mark.parametrize('name', ['roadscene', 'tno'])
def test_fusion_only_sets(name, find_test_data):
    data = find_test_data(name)
    (test, ) = _datasets(f'{name}.py', data.path, phases=('test', ))
    assert len(test) == data.pairs
    out = test[0]
    x, sample = out['inputs'], out['data_samples']
    assert x.shape[0] == 4 and x.shape[1:] == sample.ori_shape
    # TNO stores both modalities as 3 identical channels: IR becomes one
    # channel, VIS is flagged gray; RoadScene VIS is colour
    assert sample.vis_is_gray is (name == 'tno')


def test_ir_and_vis_from_any_two_folders(msrs_mini, tmp_path):
    """Absolute folders under different roots, names matched across
    extensions (PNG infrared, JPEG visible)."""
    import shutil

    import cv2
    ir_dir, vis_dir = tmp_path / 'cam_a' / 'thermal', tmp_path / 'rgb'
    ir_dir.mkdir(parents=True)
    vis_dir.mkdir()
    for stem in ('00004N', '00085D'):
        shutil.copy(
            osp.join(msrs_mini, 'train', 'ir', stem + '.png'),
            ir_dir / (stem + '.png'))
        cv2.imwrite(
            str(vis_dir / (stem + '.jpg')),
            cv2.imread(osp.join(msrs_mini, 'train', 'vi', stem + '.png')))
    init_default_scope('mmfusion')
    ds = DATASETS.build(
        dict(
            type='PairedImageDataset',
            data_root='/nonexistent/root',  # absolute prefixes win
            data_prefix=dict(ir=str(ir_dir), vis=str(vis_dir)),
            pipeline=[
                dict(type='LoadPairedImageFromFile'),
                dict(type='PackFusionInputs')
            ]))
    assert len(ds) == 2
    out = ds[1]
    assert out['data_samples'].vis_path == str(vis_dir / '00085D.jpg')
    assert out['inputs'].shape == (4, 480, 640)
