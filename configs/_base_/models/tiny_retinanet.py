# The small detector of the CPU demos and the tests: mmdet's RetinaNet on a
# ResNet-18 at 1/8 width (stem 16, stages 8-64 channels) with a 16-channel FPN
# (P3-P5) and a one-conv head, from scratch, 3 MSRS classes (person, bicycle,
# car). One copy, as a variable rather than `model` (a config inherits it
# next to its method's base, which owns `model`):
#   _base_ = ['./tardal_retinanet_msrs.py',
#             '../_base_/models/tiny_retinanet.py']
#   model = dict(task=dict(
#       _delete_=True, type='TaskAdapter',
#       model=dict(_base_.tiny_detector, _scope_='mmdet')))
# Each use adds what differs (`dict(base, key=value)`): `_scope_='mmdet'`
# inside a TaskAdapter, the number of classes, anchors, the test-time
# detections kept. mmfusion.testing.tiny_detector reads this file.
tiny_detector = dict(
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
        num_classes=3,
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
