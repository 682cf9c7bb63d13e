# Copyright (c) mmfusion contributors. All rights reserved.
"""The registered FusionMetric on real data samples."""
import csv
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData

from mmfusion.evaluation import FusionMetric
from mmfusion.registry import METRICS
from mmfusion.structures import FusionDataSample

NAMES = ('00357D', '00927N')  # a day and a night pair, shared and bundled


def _samples(seafusion_reference, names=NAMES, size=None):
    """Data samples as the model's predict returns them: ``pred_fused`` RGB
    float in [0, 1] (here the official fused PNGs, which quantise back to
    themselves) and the source paths in the metainfo."""
    _, _, dirs = seafusion_reference
    out = []
    for name in names:
        rgb = mmcv.imread(
            osp.join(dirs['fused'], name + '.png'), channel_order='rgb')
        if size is not None:
            rgb = mmcv.imresize(rgb, size)
        sample = FusionDataSample(
            metainfo=dict(
                img_id=name,
                ir_path=osp.join(dirs['ir'], name + '.png'),
                vis_path=osp.join(dirs['vis'], name + '.png')))
        sample.pred_fused = PixelData(
            data=torch.from_numpy(rgb).permute(2, 0, 1).float() / 255)
        out.append(sample.to_dict())
    return out


def test_metric_equals_the_de_facto_evaluator(seafusion_reference, tmp_path):
    _, ref, _ = seafusion_reference
    metric = METRICS.build(
        dict(
            type='FusionMetric',
            per_image_file=str(tmp_path / 'per_image.csv')))
    assert isinstance(metric, FusionMetric)
    metric.process({}, _samples(seafusion_reference))
    result = metric.compute_metrics(metric.results)
    assert set(result) == set(metric.metrics) and len(result) == 14
    for key, value in result.items():
        if key in ('Nabf', 'MS_SSIM'):
            assert 0 < value < 1
            continue
        expected = np.mean([ref['per_image'][n][key] for n in NAMES])
        assert value == pytest.approx(expected, rel=1e-5), key
    with open(tmp_path / 'per_image.csv') as f:
        rows = list(csv.DictReader(f))
    assert [r['img_id'] for r in rows] == list(NAMES)
    assert float(rows[1]['VIF']) == pytest.approx(
        ref['per_image'][NAMES[1]]['VIF'], rel=1e-5)


def test_metric_options_and_names(seafusion_reference):
    metric = FusionMetric(fusion_metrics=['MI', 'MS-SSIM', 'EN'], mi_base=2)
    assert metric.metrics == ('MI', 'MS_SSIM', 'EN')
    metric.process({}, _samples(seafusion_reference, NAMES[:1]))
    _, ref, _ = seafusion_reference
    bits = ref['per_image'][NAMES[0]]['MI'] / np.log(2)
    assert metric.results[0]['MI'] == pytest.approx(bits, rel=1e-6)
    with pytest.raises(KeyError, match='unknown fusion metric'):
        FusionMetric(fusion_metrics=['FMI'])
    with pytest.raises(TypeError, match='unknown options'):
        FusionMetric(mi_bsae=2)


def test_resized_prediction_is_a_clear_error(seafusion_reference):
    metric = FusionMetric(fusion_metrics=['EN', 'VIF'])
    with pytest.raises(
            ValueError,
            match=r'320x240 but its IR source .*'
            r'00357D.png is 640x480'):
        metric.process({},
                       _samples(
                           seafusion_reference, NAMES[:1], size=(320, 240)))
    # reference-free metrics need no sources at all
    metric = FusionMetric(fusion_metrics=['EN', 'SD'])
    samples = _samples(seafusion_reference, NAMES[:1], size=(320, 240))
    samples[0]['ir_path'] = samples[0]['vis_path'] = None
    metric.process({}, samples)
    assert metric.results[0]['EN'] > 0


def test_evaluator_with_a_task_metric(seafusion_reference):
    """``val_evaluator = [FusionMetric, mmseg.IoUMetric]`` in an mmfusion
    config: both metrics run on the same predicted samples."""
    init_default_scope('mmfusion')
    evaluator = Evaluator([
        dict(type='FusionMetric', fusion_metrics=['EN', 'SSIM']),
        dict(type='mmseg.IoUMetric', iou_metrics=['mIoU'])
    ])
    evaluator.dataset_meta = dict(classes=('unlabelled', 'car', 'person'))
    samples = []
    for s in _samples(seafusion_reference):
        label = torch.zeros(1, 480, 640, dtype=torch.long)
        label[:, 200:300, 100:200] = 1
        pred = label.clone()
        pred[:, 200:250, 100:200] = 2
        s['gt_sem_seg'] = dict(data=label)
        s['pred_sem_seg'] = dict(data=pred)
        samples.append(s)
    evaluator.process(samples, {})
    result = evaluator.evaluate(len(samples))
    assert {'fusion/EN', 'fusion/SSIM', 'mIoU'} <= set(result)
    # unlabelled IoU 1, car 0.5, person 0 -> mean 50
    assert result['mIoU'] == pytest.approx(50.0)
