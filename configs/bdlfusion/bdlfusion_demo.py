# Demo: BDLFusion on the 12 MSRS pairs bundled in data/msrs_demo in a few
# minutes on 2 CPU cores: followers (disc.*, task.*) every iteration, the
# leader's hypergradient step (upper.*) every 5th. Small images (160x120) and
# a small DeepLabV3+ (ResNetV1c-18 at 1/4 width) as the task.
_base_ = [
    './bdlfusion_drdb_deeplabv3plus_msrs.py',
    '../_base_/models/tiny_deeplabv3plus.py'
]

data_root = 'data/msrs_demo'
model = dict(
    task=dict(
        _delete_=True,
        type='TaskAdapter',
        model=dict(
            _base_.tiny_segmentor,
            _scope_='mmseg',
            data_preprocessor=dict(
                _base_.tiny_segmentor.data_preprocessor, size_divisor=32)),
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
