# Copyright (c) mmfusion contributors. All rights reserved.
"""SegIoUMetric: mmseg's IoUMetric by default, the class means over a
chosen set of classes (MSRS: 9 with 'unlabelled', or 8), per-class values."""
import math
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import DefaultScope
from mmseg.evaluation.metrics import IoUMetric

from mmfusion.datasets import MSRSDataset
from mmfusion.evaluation import SegIoUMetric
from mmfusion.evaluation.metrics import seg_iou_metric
from mmfusion.registry import METRICS

CLASSES = MSRSDataset.METAINFO['classes']  # 'unlabelled', 'car', ... (9)
META = dict(classes=CLASSES)

# 20 pixels in two samples; per class (intersection, GT, prediction):
#   unlabelled (9, 10, 11) IoU 9/12 = .75, Acc .9
#   car        (2,  4,  3) IoU 2/5  = .4,  Acc .5
#   person     (4,  4,  4) IoU 1,          Acc 1
#   bike       (0,  2,  0) IoU 0,          Acc 0
#   curve      (0,  0,  2) IoU 0,          Acc NaN (no GT pixel)
#   car_stop, guardrail, color_cone, bump: absent from both -> NaN
GT = [0] * 10 + [1] * 4 + [2] * 4 + [3] * 2
PRED = [0] * 9 + [1] + [1, 1, 0, 0] + [2] * 4 + [4, 4]
IOU = [.75, .4, 1., 0., 0.] + [math.nan] * 4
ACC = [.9, .5, 1., 0., math.nan] + [math.nan] * 4


def _samples(gt=GT, pred=PRED, shape=(2, 5)):
    """Data samples as the evaluator passes them to ``process`` (model
    outputs converted to dicts): ``pred_sem_seg`` / ``gt_sem_seg`` with a
    ``data`` tensor ``(1, H, W)``."""
    gt = torch.tensor(gt).view(-1, 1, *shape)
    pred = torch.tensor(pred).view(-1, 1, *shape)
    return [
        dict(pred_sem_seg=dict(data=p), gt_sem_seg=dict(data=g))
        for p, g in zip(pred, gt)
    ]


def _evaluate(metric, samples=None, meta=META):
    metric.dataset_meta = meta
    metric.process({}, _samples() if samples is None else samples)
    return metric.compute_metrics(metric.results)


def test_default_is_the_9_class_mean():
    result = _evaluate(SegIoUMetric())
    assert set(result) == {'aAcc', 'mIoU', 'mAcc'}
    assert result['aAcc'] == pytest.approx(75.0)  # 15 of 20 pixels
    assert result['mIoU'] == pytest.approx(43.0)  # (.75+.4+1+0+0) / 5
    assert result['mIoU'] == pytest.approx(100 * np.nanmean(IOU), abs=5e-3)
    assert result['mAcc'] == pytest.approx(60.0)  # (.9+.5+1+0) / 4


def test_exclude_unlabelled_gives_the_8_class_mean():
    result = _evaluate(SegIoUMetric(exclude_from_mean=('unlabelled', )))
    assert result['mIoU'] == pytest.approx(35.0)  # (.4+1+0+0) / 4
    assert result['mIoU'] == pytest.approx(100 * np.nanmean(IOU[1:]), abs=5e-3)
    assert result['mAcc'] == pytest.approx(50.0)  # (.5+1+0) / 3
    # the confusion statistics are unchanged: aAcc over all pixels
    assert result['aAcc'] == pytest.approx(75.0)
    # a single name is one class, not its characters
    assert _evaluate(SegIoUMetric(exclude_from_mean='unlabelled')) == result


def test_exclude_keeps_the_confusion_statistics():
    """Excluding a class only drops its value from the means: its pixels
    still count against the other classes (unlike ignore_index)."""
    # 'car' pixels predicted as unlabelled lower unlabelled's IoU even when
    # 'car' is excluded
    gt = [0, 0, 1, 1]
    pred = [0, 0, 0, 0]
    samples = _samples(gt, pred, shape=(1, 4))
    excl = _evaluate(
        SegIoUMetric(exclude_from_mean=('car', ), per_class=True), samples)
    assert excl['IoU.unlabelled'] == pytest.approx(50.0)
    assert excl['mIoU'] == pytest.approx(50.0)
    ignored = _evaluate(
        SegIoUMetric(ignore_index=1, per_class=True),
        _samples(gt, pred, shape=(1, 4)))
    assert ignored['IoU.unlabelled'] == pytest.approx(100.0)


@pytest.mark.parametrize('iou_metrics',
                         [['mIoU'], ['mIoU', 'mDice', 'mFscore']])
@pytest.mark.parametrize('nan_to_num', [None, 0])
def test_default_equals_mmseg(iou_metrics, nan_to_num):
    """exclude_from_mean=() gives exactly mmseg's numbers, on random maps
    with ignored (255) pixels and classes absent from both maps."""
    g = torch.Generator().manual_seed(0)
    samples = []
    for _ in range(3):
        gt = torch.randint(0, 6, (1, 12, 16), generator=g)
        gt[torch.rand(gt.shape, generator=g) < .1] = 255
        pred = torch.randint(0, 7, (1, 12, 16), generator=g)
        samples.append(
            dict(pred_sem_seg=dict(data=pred), gt_sem_seg=dict(data=gt)))
    kw = dict(iou_metrics=iou_metrics, nan_to_num=nan_to_num)
    ours = _evaluate(SegIoUMetric(**kw), samples)
    theirs = _evaluate(IoUMetric(**kw), samples)
    assert list(ours) == list(theirs)
    for k in theirs:
        np.testing.assert_equal(ours[k], theirs[k])
        assert type(ours[k]) is type(theirs[k])
    # and through an mmengine Evaluator with the scoped names
    results = []
    for t in ('mmfusion.SegIoUMetric', 'mmseg.IoUMetric'):
        ev = Evaluator(dict(type=t, **kw))
        ev.dataset_meta = META
        ev.process(samples)
        results.append(ev.evaluate(len(samples)))
    assert results[0] == results[1] == theirs


def test_per_class():
    result = _evaluate(SegIoUMetric(per_class=True, iou_metrics=['mIoU']))
    keys = ['aAcc', 'mIoU', 'mAcc'] + [f'IoU.{c}' for c in CLASSES
                                       ] + [f'Acc.{c}' for c in CLASSES]
    assert list(result) == keys
    for name, iou, acc in zip(CLASSES, IOU, ACC):
        for key, ref in ((f'IoU.{name}', iou), (f'Acc.{name}', acc)):
            if math.isnan(ref):
                assert math.isnan(result[key]), key
            else:
                assert result[key] == pytest.approx(100 * ref), key
    assert result['IoU.car'] == np.round(np.float32(.4) * 100, 2)
    # the means are the same as without per_class
    assert {
        k: result[k]
        for k in ('aAcc', 'mIoU', 'mAcc')
    } == _evaluate(SegIoUMetric())
    # other metrics give their own per-class keys
    result = _evaluate(
        SegIoUMetric(per_class=True, iou_metrics=['mDice', 'mFscore']))
    for prefix in ('Dice', 'Acc', 'Fscore', 'Precision', 'Recall'):
        assert f'm{prefix}' in result
        assert all(f'{prefix}.{c}' in result for c in CLASSES)
    assert 'IoU.car' not in result
    assert result['Dice.unlabelled'] == pytest.approx(
        np.round(100 * 18 / 21, 2), abs=1e-4)
    assert result['Precision.car'] == pytest.approx(100 * 2 / 3, abs=5e-3)


def test_log_names_the_classes_of_the_means(monkeypatch):
    lines = []
    monkeypatch.setattr(seg_iou_metric, 'print_log',
                        lambda msg, *a, **kw: lines.append(msg))
    _evaluate(SegIoUMetric())
    assert 'per class results:' in lines
    table = lines[1]
    assert all(c in table for c in CLASSES) and 'IoU' in table
    assert 'over all 9 classes' in lines[-1]
    lines.clear()
    _evaluate(SegIoUMetric(exclude_from_mean=('unlabelled', )))
    assert 'over 8 of 9 classes' in lines[-1]
    assert 'excluded: unlabelled' in lines[-1]


def test_unknown_class_raises_when_the_classes_are_set():
    metric = SegIoUMetric(exclude_from_mean=('unlabeled', ))
    with pytest.raises(ValueError) as e:
        metric.dataset_meta = META
    msg = str(e.value)
    assert "'unlabeled'" in msg and 'unlabelled' in msg and 'color_cone' in msg
    # through an evaluator (an mmfusion config): before anything is processed
    with DefaultScope.overwrite_default_scope('mmfusion'):
        ev = Evaluator(dict(type='SegIoUMetric', exclude_from_mean=['bikes']))
    with pytest.raises(ValueError, match='bikes'):
        ev.dataset_meta = META
    # and when the classes are set behind the setter's back
    metric = SegIoUMetric(exclude_from_mean=('x', ))
    metric._dataset_meta = META
    metric.process({}, _samples())
    with pytest.raises(ValueError, match="'x'"):
        metric.compute_metrics(metric.results)


def test_excluding_every_class_raises():
    metric = SegIoUMetric(exclude_from_mean=CLASSES)
    with pytest.raises(ValueError, match='every class'):
        metric.dataset_meta = META
    SegIoUMetric(exclude_from_mean=CLASSES[1:]).dataset_meta = META  # 1 left


def test_registry_build():
    metric = METRICS.build(
        dict(
            type='SegIoUMetric',
            iou_metrics=['mIoU'],
            exclude_from_mean=('unlabelled', )))
    assert isinstance(metric, SegIoUMetric)
    assert isinstance(metric, IoUMetric)
    assert metric.exclude_from_mean == ('unlabelled', )
    metric = MMENGINE_METRICS.build(
        dict(type='mmfusion.SegIoUMetric', per_class=True))
    assert isinstance(metric, SegIoUMetric) and metric.per_class
    with pytest.raises(TypeError):  # typos are not swallowed
        SegIoUMetric(exclude_from_means=('unlabelled', ))


def test_format_only(tmp_path):
    metric = SegIoUMetric(
        format_only=True,
        output_dir=str(tmp_path / 'out'),
        exclude_from_mean=('unlabelled', ))
    samples = _samples()
    for i, s in enumerate(samples):
        del s['gt_sem_seg']
        s['img_path'] = f'/x/img{i}.png'
    assert _evaluate(metric, samples) == {}
    assert metric.results == []
    assert osp.isfile(tmp_path / 'out' / 'img0.png')
