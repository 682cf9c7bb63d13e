# Copyright (c) mmfusion contributors. All rights reserved.
"""tools/dataset_converters and tools/analysis_tools/browse_dataset.py."""
import importlib.util
import json
import os
import os.path as osp
import sys

import cv2
import numpy as np
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DATA = osp.join(REPO, 'tests', 'data')


def _tool(path):
    spec = importlib.util.spec_from_file_location(
        osp.splitext(osp.basename(path))[0], osp.join(REPO, 'tools', path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(monkeypatch, path, *args):
    monkeypatch.setattr(sys, 'argv', [path, *args])
    _tool(path).main()


def _coco_metric(ann_file, classes, predictions):
    from mmdet.evaluation import CocoMetric
    metric = CocoMetric(ann_file=ann_file, metric='bbox')
    metric.dataset_meta = dict(classes=classes)
    metric.process({}, predictions)
    return metric.evaluate(len(predictions))


def test_yolo2coco_msrs_and_coco_metric(msrs_mini, msrs_mini_pairs, tmp_path,
                                        monkeypatch):
    """MSRS test labels -> COCO json; mmdet's CocoMetric scores the ground
    truth, packed by mmfusion's pipeline as predictions, at mAP 1."""
    from mmfusion.datasets import MSRSDataset
    out = str(tmp_path / 'test_det_coco.json')
    _run(monkeypatch, 'dataset_converters/yolo2coco.py', msrs_mini, '--split',
         'test', '--out', out)
    coco = json.load(open(out))
    assert len(coco['images']) == msrs_mini_pairs['test']
    assert [c['name']
            for c in coco['categories']] == ['person', 'bicycle', 'car']
    n_lines = sum(
        len(
            open(osp.join(msrs_mini, 'test', 'Detection_labels',
                          name)).read().split()) // 5 for name in os.listdir(
                              osp.join(msrs_mini, 'test', 'Detection_labels')))
    assert len(coco['annotations']) == n_lines
    ann = coco['annotations'][0]
    img = next(i for i in coco['images'] if i['id'] == ann['image_id'])
    assert (img['width'], img['height']) == (640, 480)
    ds = MSRSDataset(
        data_root=msrs_mini,
        data_prefix=dict(
            ir='test/ir', vis='test/vi', det='test/Detection_labels'),
        pipeline=[
            dict(type='mmdet.LoadAnnotations', with_bbox=True),
            dict(type='PackFusionInputs')
        ])
    predictions = []
    for i in range(len(ds)):
        sample = ds[i]['data_samples']
        boxes = sample.gt_instances.bboxes.tensor
        predictions.append(
            dict(
                img_id=sample.img_id,
                ori_shape=(480, 640),
                pred_instances=dict(
                    bboxes=boxes,
                    scores=torch.ones(len(boxes)),
                    labels=sample.gt_instances.labels)))
    result = _coco_metric(out, ds.metainfo['classes'], predictions)
    assert result['coco/bbox_mAP'] > 0.99
    # a shifted prediction is not a match: the metric is really comparing
    for p in predictions:
        p['pred_instances']['bboxes'] = p['pred_instances']['bboxes'] + 40
    result = _coco_metric(out, ds.metainfo['classes'], predictions)
    assert result['coco/bbox_mAP'] < 0.5


def test_voc2coco_m3fd_split_and_llvip(tmp_path, monkeypatch):
    out = str(tmp_path / 'm3fd.json')
    _run(monkeypatch, 'dataset_converters/voc2coco.py',
         osp.join(DATA, 'm3fd_mini'), '--split-file', 'meta/train.txt',
         '--img-id', 'int', '--out', out)
    coco = json.load(open(out))
    assert [i['id'] for i in coco['images']] == [1, 2]
    assert [c['name'] for c in coco['categories']][:2] == ['People', 'Car']
    truck = next(a for a in coco['annotations'] if a['category_id'] == 6)
    # VOC <xmin>3 <ymin>9 <xmax>22 <ymax>30 -> COCO x, y, w, h
    assert truck['bbox'] == [2.0, 8.0, 20.0, 22.0] and truck['image_id'] == 2
    lamp = next(a for a in coco['annotations'] if a['category_id'] == 5)
    assert lamp['iscrowd'] == 1  # difficult: ignored by COCOeval
    out = str(tmp_path / 'llvip.json')
    _run(monkeypatch, 'dataset_converters/voc2coco.py',
         osp.join(DATA, 'llvip_mini'), '--dataset', 'LLVIPDataset', '--ir',
         'infrared/test', '--vis', 'visible/test', '--out', out)
    coco = json.load(open(out))
    assert [i['id'] for i in coco['images']] == ['190001']
    assert coco['images'][0]['file_name'] == '190001.jpg'


def test_make_split(tmp_path, monkeypatch):
    import shutil
    root = str(tmp_path / 'm3fd')
    shutil.copytree(osp.join(DATA, 'm3fd_mini'), root)
    _run(monkeypatch, 'dataset_converters/make_split.py', root, '--val', '1',
         '--out-dir', 'split')
    train = open(osp.join(root, 'split', 'train.txt')).read().split()
    val = open(osp.join(root, 'split', 'val.txt')).read().split()
    assert len(train) == 2 and len(val) == 1
    assert sorted(train + val) == ['00000.png', '00001.png', '00002.png']
    # deterministic for a seed, and loadable as the dataset's ann_file
    module = _tool('dataset_converters/make_split.py')
    assert module.make_split(root, val=1, seed=0)[1] == val
    from mmfusion.datasets import M3FDDataset
    assert len(M3FDDataset(data_root=root, ann_file='split/val.txt')) == 1


def test_browse_dataset_draws_vis_ir_and_labels(msrs_mini, tmp_path,
                                                monkeypatch):
    out = str(tmp_path / 'browse')
    root = msrs_mini
    _run(monkeypatch, 'analysis_tools/browse_dataset.py',
         osp.join(REPO, 'configs', '_base_', 'datasets',
                  'msrs_det.py'), '--output-dir', out, '--num', '2', '--phase',
         'val', '--cfg-options', f'val_dataloader.dataset.data_root={root}',
         'val_dataloader.dataset.data_prefix.seg=test/Segmentation_labels',
         'val_dataloader.dataset.pipeline.2.with_seg=True')
    files = sorted(os.listdir(out))
    assert len(files) == 2 and files[0].startswith('0000_')
    canvas = cv2.imread(osp.join(out, files[0]))
    assert canvas.shape == (480, 1920, 3)
    vis, ir, labels = canvas[:, :640], canvas[:, 640:1280], canvas[:, 1280:]
    assert not np.array_equal(vis, ir)
    # the IR panel is gray but for the box outlines, which are drawn at the
    # same pixels, in the same colours, on the VIS panel
    outline = (ir[..., 0] != ir[..., 1]) | (ir[..., 1] != ir[..., 2])
    assert 20 < outline.sum() < 0.05 * outline.size
    assert np.array_equal(vis[outline], ir[outline])
    # the labels panel is a blend painted with the mask
    assert not np.array_equal(labels, vis)
