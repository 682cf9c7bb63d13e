# Copyright (c) mmfusion contributors. All rights reserved.
"""Batches of the real MSRS pairs feed mmseg and mmdet models unchanged."""
import copy

import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope

from mmfusion.datasets import MSRSDataset
from mmfusion.registry import MODELS
from mmfusion.testing import tiny_detector

PREFIX = dict(
    ir='test/ir',
    vis='test/vi',
    seg='test/Segmentation_labels',
    det='test/Detection_labels')
MEAN, STD = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]


def _batch(root, transforms, indices=(0, 1), with_seg=True):
    init_default_scope('mmfusion')
    prefix = dict(PREFIX)
    if not with_seg:
        del prefix['seg']
    load = [dict(type='LoadPairedImageFromFile')]
    if with_seg:
        load.append(dict(type='mmseg.LoadAnnotations'))
    load.append(
        dict(type='mmdet.LoadAnnotations', with_bbox=True, with_label=True))
    ds = MSRSDataset(
        data_root=root,
        data_prefix=prefix,
        pipeline=load + transforms + [dict(type='PackFusionInputs')])
    # pairs of the test split that hold boxes
    picked = [i for i in range(len(ds)) if ds.get_data_info(i)['instances']]
    return ds, pseudo_collate([ds[picked[i]] for i in indices])


def _fuse(inputs):
    """A differentiable stand-in for a fusion net: ``w`` mixes IR into VIS
    luminance; returns (w, fused RGB list in 0..255 BGR, fused Y)."""
    w = torch.tensor(0.3, requires_grad=True)
    fused_y = w * inputs['ir'] + (1 - w) * inputs['vis_y']
    fused_y.retain_grad()
    # back to the pipeline's BGR order and 0..255, as a task adapter would
    fused = (fused_y.expand(-1, 3, -1, -1) * 255.)
    return w, fused_y, list(fused)


def test_preprocessor_batches_pairs_of_different_sizes_keeping_boxes(
        msrs_mini):
    _, data = _batch(
        msrs_mini,
        [dict(type='mmdet.Resize', scale=(160, 120), keep_ratio=True)])
    # make the second pair smaller: it gets padded bottom/right
    small = dict(type='mmdet.Resize', scale=(96, 72), keep_ratio=True)
    _, data2 = _batch(msrs_mini, [small], indices=(1, ))
    data['inputs'][1] = data2['inputs'][0]
    data['data_samples'][1] = data2['data_samples'][0]
    boxes = [
        s.gt_instances.bboxes.tensor.clone() for s in data['data_samples']
    ]
    assert data['inputs'][0].shape[-2:] == (120, 160)
    assert data['inputs'][1].shape[-2:] == (72, 96)
    pre = MODELS.build(dict(type='FusionDataPreprocessor'))
    out = pre(data, training=True)
    ir, vis = out['inputs']['ir'], out['inputs']['vis']
    assert ir.shape == (2, 1, 120, 160) and vis.shape == (2, 3, 120, 160)
    assert ir.max() <= 1 and ir[1, :, 72:].abs().sum() == 0  # padding
    for sample, before in zip(out['data_samples'], boxes):
        assert torch.equal(sample.gt_instances.bboxes.tensor, before)
        assert sample.batch_input_shape == (120, 160)
        assert sample.pad_shape == (120, 160)
        assert len(sample.gt_instances.labels) == len(before)
        assert sample.gt_sem_seg.data.shape == (1, 120, 160)
    seg = out['data_samples'][1].gt_sem_seg.data[0]
    assert (seg[72:] == 255).all() and (seg[:, 96:] == 255).all()
    assert (seg[:72, :96] != 255).all()
    # the boxes of the small pair were scaled with it (0.15 of 640x480)
    assert boxes[1][:, 2].max() <= 96 and boxes[1][:, 3].max() <= 72


def test_segmentation_batch_trains_mmseg_encoder_decoder(msrs_mini):
    _, data = _batch(msrs_mini, [
        dict(type='mmdet.Resize', scale=(160, 120), keep_ratio=True),
        dict(type='mmdet.RandomFlip', prob=0.5),
    ])
    fusion_pre = MODELS.build(dict(type='FusionDataPreprocessor'))
    data = fusion_pre(data, training=True)
    w, fused_y, fused = _fuse(data['inputs'])
    norm_cfg = dict(type='BN', requires_grad=True)
    seg = MODELS.build(
        dict(
            _scope_='mmseg',
            type='EncoderDecoder',
            data_preprocessor=dict(
                type='SegDataPreProcessor',
                mean=MEAN,
                std=STD,
                bgr_to_rgb=True,
                size_divisor=32),
            backbone=dict(
                type='ResNetV1c',
                depth=18,
                stem_channels=8,
                base_channels=8,
                norm_cfg=norm_cfg),
            decode_head=dict(
                type='FCNHead',
                in_channels=64,
                channels=16,
                num_convs=1,
                num_classes=9,
                norm_cfg=norm_cfg,
                loss_decode=dict(type='CrossEntropyLoss')),
            train_cfg=dict(),
            test_cfg=dict(mode='whole')))
    samples = copy.deepcopy(data['data_samples'])
    assert all(s.gt_sem_seg.data.shape == (1, 120, 160) for s in samples)
    task = seg.data_preprocessor(
        dict(inputs=fused, data_samples=samples), True)
    losses = seg(**task, mode='loss')
    loss, _ = seg.parse_losses(losses)
    assert torch.isfinite(loss) and loss > 0
    loss.backward()
    assert fused_y.grad is not None and fused_y.grad.abs().sum() > 0
    assert torch.isfinite(w.grad) and w.grad != 0


def test_detection_batch_trains_mmdet_detector(msrs_mini):
    pytest.importorskip('mmcv.ops')
    _, data = _batch(msrs_mini, [
        dict(type='mmdet.Resize', scale=(160, 120), keep_ratio=True),
        dict(type='mmdet.RandomFlip', prob=0.5),
    ])
    fusion_pre = MODELS.build(dict(type='FusionDataPreprocessor'))
    data = fusion_pre(data, training=True)
    w, fused_y, fused = _fuse(data['inputs'])
    # the shared small RetinaNet (configs/_base_/models/tiny_retinanet.py)
    # with an 8-channel stem, and smaller anchors and IoU thresholds for the
    # small objects of 160x120 pairs
    det_cfg = tiny_detector(3)
    det_cfg['backbone'].update(stem_channels=8)
    det_cfg['bbox_head']['anchor_generator'].update(
        octave_base_scale=2, scales_per_octave=2)
    det_cfg['train_cfg']['assigner'].update(pos_iou_thr=0.4, neg_iou_thr=0.3)
    det = MODELS.build(det_cfg)
    # mmdet's preprocessor turns box objects into tensors in place
    samples = copy.deepcopy(data['data_samples'])
    n_boxes = sum(len(s.gt_instances) for s in samples)
    assert n_boxes > 0
    task = det.data_preprocessor(
        dict(inputs=fused, data_samples=samples), True)
    losses = det(**task, mode='loss')
    loss, log_vars = det.parse_losses(losses)
    assert torch.isfinite(loss) and log_vars['loss_bbox'] > 0
    loss.backward()
    assert fused_y.grad is not None and fused_y.grad.abs().sum() > 0
    assert torch.isfinite(w.grad) and w.grad != 0
