# Copyright (c) mmfusion contributors. All rights reserved.
"""Small but real task-model configs for tests and demos (CPU friendly)."""
import copy
import os.path as osp
from functools import lru_cache

#: the one copy of the small segmenter, shared with the demo and task-gain
#: configs (they inherit it as ``_base_.tiny_segmentor``)
TINY_SEGMENTOR_BASE = 'configs/_base_/models/tiny_deeplabv3plus.py'


@lru_cache(maxsize=None)
def _tiny_segmentor_base() -> dict:
    from mmengine.config import Config
    package = osp.dirname(osp.dirname(osp.abspath(__file__)))
    # the repository (editable install, clone) or the installed package
    for root in (osp.dirname(package), osp.join(package, '.mim')):
        path = osp.join(root, TINY_SEGMENTOR_BASE)
        if osp.isfile(path):
            return Config.fromfile(path).tiny_segmentor.to_dict()
    raise FileNotFoundError(
        f'{TINY_SEGMENTOR_BASE} is in neither the repository nor '
        f'{package}/.mim: reinstall mmfusion (pip install -e .)')


def tiny_segmentor(num_classes=9, in_channels=3):
    """A small but real mmseg DeepLabV3+: the shared base config
    (``configs/_base_/models/tiny_deeplabv3plus.py``) at 1/8 width
    (ResNetV1c-18 with 8 base channels), ``in_channels`` inputs normalised
    with the first ``in_channels`` ImageNet means/stds, padded to a multiple
    of 32."""
    base = copy.deepcopy(_tiny_segmentor_base())
    data_preprocessor = base['data_preprocessor']
    data_preprocessor.update(
        mean=data_preprocessor['mean'][:in_channels],
        std=data_preprocessor['std'][:in_channels],
        size_divisor=32)
    base['backbone'].update(in_channels=in_channels, base_channels=8)
    base['decode_head'].update(
        in_channels=64,
        channels=16,
        c1_in_channels=8,
        c1_channels=8,
        num_classes=num_classes)
    return dict(_scope_='mmseg', **base)


def tiny_detector(num_classes=3):
    """A small but real mmdet RetinaNet (ResNet-18 at 1/8 width, FPN)."""
    return dict(
        _scope_='mmdet',
        type='RetinaNet',
        data_preprocessor=dict(
            type='DetDataPreprocessor',
            mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375],
            bgr_to_rgb=True,
            pad_size_divisor=32),
        backbone=dict(
            type='ResNet',
            depth=18,
            stem_channels=16,
            base_channels=8,
            num_stages=4,
            out_indices=(1, 2, 3),
            norm_cfg=dict(type='BN'),
            init_cfg=None),
        neck=dict(
            type='FPN',
            in_channels=[16, 32, 64],
            out_channels=16,
            start_level=0,
            add_extra_convs='on_input',
            num_outs=3),
        bbox_head=dict(
            type='RetinaHead',
            num_classes=num_classes,
            in_channels=16,
            stacked_convs=1,
            feat_channels=16,
            anchor_generator=dict(
                type='AnchorGenerator',
                octave_base_scale=4,
                scales_per_octave=3,
                ratios=[0.5, 1.0, 2.0],
                strides=[8, 16, 32]),
            bbox_coder=dict(
                type='DeltaXYWHBBoxCoder',
                target_means=[.0, .0, .0, .0],
                target_stds=[1.0, 1.0, 1.0, 1.0]),
            loss_cls=dict(
                type='FocalLoss',
                use_sigmoid=True,
                gamma=2.0,
                alpha=0.25,
                loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
        train_cfg=dict(
            assigner=dict(
                type='MaxIoUAssigner',
                pos_iou_thr=0.5,
                neg_iou_thr=0.4,
                min_pos_iou=0,
                ignore_iof_thr=-1),
            sampler=dict(type='PseudoSampler'),
            allowed_border=-1,
            pos_weight=-1,
            debug=False),
        test_cfg=dict(
            nms_pre=100,
            min_bbox_size=0,
            score_thr=0.05,
            nms=dict(type='nms', iou_threshold=0.5),
            max_per_img=10))
