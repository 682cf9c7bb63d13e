# Demo: TarDAL on the 12 MSRS pairs bundled in data/msrs_demo in a few
# minutes on 2 CPU cores: the generator (fusion.*), the detector (task.*) and
# both critics (target.*, detail.*) learn; 4 iterations without, then 12 with
# the adversarial terms. Small pairs (96x96), the generator and critics at
# half width (dim 16) and a small RetinaNet (ResNet-18 at 1/8 width).
_base_ = ['./tardal_retinanet_msrs.py']

data_root = 'data/msrs_demo'
size = 96
model = dict(
    fusion_net=dict(dim=16),
    target_discriminator=dict(dim=16, size=(size, size)),
    detail_discriminator=dict(dim=16, size=(size, size)),
    task=dict(
        _delete_=True,
        type='TaskAdapter',
        model=dict(
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
                max_per_img=20)),
        input_format='rgb'))
train_pipeline = [
    dict(type='LoadPairedImageFromFile'),
    dict(type='mmdet.LoadAnnotations', with_bbox=True, with_label=True),
    dict(type='mmdet.Resize', scale=(size, size), keep_ratio=False),
    dict(type='mmdet.RandomFlip', prob=0.5),
    dict(type='PackFusionInputs'),
]
test_pipeline = [
    dict(type='LoadPairedImageFromFile'),
    dict(type='mmdet.Resize', scale=(160, 120), keep_ratio=True),
    dict(type='mmdet.LoadAnnotations', with_bbox=True, with_label=True),
    dict(type='PackFusionInputs'),
]
train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
_joint = dict(accumulative_counts=1, optimizer=dict(lr=1e-3))
optim_wrapper = dict(
    fusion_net=_joint,
    task=_joint,
    target_discriminator=dict(optimizer=dict(lr=1e-4)),
    detail_discriminator=dict(optimizer=dict(lr=1e-4)))
param_scheduler = dict(
    fusion_net=[], task=[], target_discriminator=[], detail_discriminator=[])
train_cfg = dict(
    phases=[dict(name='warmup', iters=4),
            dict(name='joint', iters=12)],
    max_iters=16,
    val_interval=16)
default_hooks = dict(logger=dict(interval=4), checkpoint=dict(interval=16))
