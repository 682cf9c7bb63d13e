# Demo: the same model on the 12 MSRS pairs bundled in data/msrs_demo, small
# random crops, a couple of minutes on 2 CPU cores.
_base_ = ['./seafusion_content_msrs.py']

data_root = 'data/msrs_demo'
crop_size = (160, 160)
train_pipeline = [
    dict(type='LoadPairedImageFromFile'),
    dict(type='mmseg.LoadAnnotations'),
    dict(
        type='RandomResize',
        scale=(640, 480),
        ratio_range=(0.5, 1.0),
        keep_ratio=True),
    dict(type='mmseg.RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackFusionInputs'),
]
train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=0, persistent_workers=False, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader

iters_per_epoch = 20
param_scheduler = [
    dict(
        type='StepLR',
        step_size=iters_per_epoch,
        gamma=0.75,
        by_epoch=False,
        begin=0,
        end=4 * iters_per_epoch)
]
train_cfg = dict(
    max_iters=4 * iters_per_epoch, val_interval=2 * iters_per_epoch)
default_hooks = dict(
    logger=dict(interval=10), checkpoint=dict(interval=2 * iters_per_epoch))
