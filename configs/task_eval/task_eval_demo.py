# Demo / test of the task-driven evaluation protocol on the 12 MSRS pairs
# bundled in data/msrs_demo: a small DeepLabV3+ (ResNetV1c-18 at 1/8 width)
# trained for 16 iterations per input on 2 CPU cores.
#   python tools/task_eval.py configs/task_eval/task_eval_demo.py \
#       --model SeAFusion configs/seafusion/seafusion_content_demo.py CKPT
_base_ = ['./deeplabv3plus_r50_msrs.py']
data_root = 'data/msrs_demo'
norm_cfg = dict(type='BN', requires_grad=True)
crop_size = (240, 320)
model = dict(
    _delete_=True,
    type='EncoderDecoder',
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255,
        size=crop_size),
    backbone=dict(
        type='ResNetV1c',
        depth=18,
        stem_channels=16,
        base_channels=8,
        out_indices=(0, 1, 2, 3),
        norm_cfg=norm_cfg),
    decode_head=dict(
        type='DepthwiseSeparableASPPHead',
        in_channels=64,
        in_index=3,
        channels=16,
        dilations=(1, 6, 12, 18),
        c1_in_channels=8,
        c1_channels=8,
        dropout_ratio=0.1,
        num_classes=9,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
train_pipeline = [
    dict(type='mmfusion.LoadModalityImage', modality='vis'),
    dict(type='mmseg.LoadAnnotations'),
    dict(type='mmseg.Resize', scale=(320, 240), keep_ratio=True),
    dict(type='mmseg.RandomFlip', prob=0.5),
    dict(type='mmseg.PackSegInputs'),
]
test_pipeline = [
    dict(type='mmfusion.LoadModalityImage', modality='vis'),
    dict(type='mmseg.Resize', scale=(320, 240), keep_ratio=True),
    dict(type='mmseg.LoadAnnotations'),
    dict(type='mmseg.PackSegInputs'),
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
optim_wrapper = dict(optimizer=dict(lr=0.01))
param_scheduler = [
    dict(
        type='PolyLR',
        eta_min=1e-4,
        power=0.9,
        begin=0,
        end=16,
        by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=16, val_interval=16)
default_hooks = dict(
    logger=dict(interval=4),
    checkpoint=dict(interval=8),
    visualization=dict(type='SegVisualizationHook', draw=False))
env_cfg = dict(cudnn_benchmark=False)
