# Demo / test of the task-driven evaluation protocol on the 12 MSRS pairs
# bundled in data/msrs_demo: a small DeepLabV3+ (ResNetV1c-18 at 1/8 width)
# trained for 16 iterations per input on 2 CPU cores.
#   python tools/task_eval.py configs/task_eval/task_eval_demo.py \
#       --model SeAFusion configs/seafusion/seafusion_content_demo.py CKPT
_base_ = [
    './deeplabv3plus_r50_msrs.py', '../_base_/models/tiny_deeplabv3plus.py'
]
data_root = 'data/msrs_demo'
norm_cfg = dict(type='BN', requires_grad=True)  # the base's is SyncBN
crop_size = (240, 320)
model = dict(
    _base_.tiny_segmentor,
    _delete_=True,
    data_preprocessor=dict(
        _base_.tiny_segmentor.data_preprocessor, size=crop_size),
    # at 1/8 width
    backbone=dict(_base_.tiny_segmentor.backbone, base_channels=8),
    decode_head=dict(
        _base_.tiny_segmentor.decode_head,
        in_channels=64,
        channels=16,
        c1_in_channels=8,
        c1_channels=8))
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
