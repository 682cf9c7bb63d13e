# Demo: BDLFusion on the 12 MSRS pairs bundled in data/msrs_demo in a few
# minutes on 2 CPU cores: followers (disc.*, task.*) every iteration, the
# leader's hypergradient step (upper.*) every 5th. Small images (160x120) and
# a small DeepLabV3+ (ResNetV1c-18 at 1/4 width) as the task.
_base_ = ['./bdlfusion_drdb_deeplabv3plus_msrs.py']

data_root = 'data/msrs_demo'
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    task=dict(
        _delete_=True,
        type='TaskAdapter',
        model=dict(
            _scope_='mmseg',
            type='EncoderDecoder',
            data_preprocessor=dict(
                type='SegDataPreProcessor',
                mean=[123.675, 116.28, 103.53],
                std=[58.395, 57.12, 57.375],
                bgr_to_rgb=True,
                pad_val=0,
                seg_pad_val=255,
                size_divisor=32),
            backbone=dict(
                type='ResNetV1c',
                depth=18,
                stem_channels=16,
                base_channels=16,
                out_indices=(0, 1, 2, 3),
                norm_cfg=norm_cfg),
            decode_head=dict(
                type='DepthwiseSeparableASPPHead',
                in_channels=128,
                in_index=3,
                channels=32,
                dilations=(1, 6, 12, 18),
                c1_in_channels=16,
                c1_channels=16,
                dropout_ratio=0.1,
                num_classes=9,
                norm_cfg=norm_cfg,
                align_corners=False,
                loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)),
            train_cfg=dict(),
            test_cfg=dict(mode='whole')),
        # the released code's task input (raw fused Y + VIS chroma, clamped,
        # min-max over the batch)
        input_format='rgb_minmax'))
train_pipeline = [
    dict(type='LoadPairedImageFromFile'),
    dict(type='mmseg.LoadAnnotations'),
    dict(
        type='RandomResize',
        scale=(160, 120),
        ratio_range=(1.0, 1.25),
        keep_ratio=True),
    dict(type='mmseg.RandomCrop', crop_size=(120, 160)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackFusionInputs'),
]
test_pipeline = [
    dict(type='LoadPairedImageFromFile'),
    dict(type='mmseg.LoadAnnotations'),
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
upper_dataloader = dict(
    batch_size=2,
    num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='MSRSDataset',
        data_root=data_root,
        data_prefix=dict(
            ir='train/ir', vis='train/vi', seg='train/Segmentation_labels'),
        pipeline=train_pipeline))
upper_interval = 5
optim_wrapper = dict(
    fusion_net=dict(optimizer=dict(lr=1e-2)),
    discriminator=dict(optimizer=dict(lr=1e-2)),
    task=dict(optimizer=dict(lr=1e-2)))
param_scheduler = dict(fusion_net=[], discriminator=[], task=[])
train_cfg = dict(
    phases=[
        dict(name='lower', iters=upper_interval - 1),
        dict(name='upper', iters=1, extra_batches=dict(upper=1)),
    ],
    extra_dataloaders=dict(upper=upper_dataloader),
    max_iters=40,
    val_interval=20)
default_hooks = dict(logger=dict(interval=5), checkpoint=dict(interval=20))
