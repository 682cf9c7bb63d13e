# FMB (SegMiF, ICCV 2023) in its released layout:
# data/FMB/{train,test}/{Infrared,Visible,Label}/*.png, 800x600, Label ids
# 0 background, 1..14 classes. For the 14-class protocol (background
# ignored) set reduce_zero_label=True in both datasets.
dataset_type = 'FMBDataset'
data_root = 'data/FMB'
crop_size = (480, 640)  # (h, w) for mmseg.RandomCrop

train_pipeline = [
    dict(type='LoadPairedImageFromFile'),
    dict(type='mmseg.LoadAnnotations'),
    dict(
        type='RandomResize',
        scale=(800, 600),
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='mmseg.RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='ApplyToVis',
        transforms=[dict(type='mmseg.PhotoMetricDistortion')]),
    dict(type='PackFusionInputs'),
]
test_pipeline = [
    dict(type='LoadPairedImageFromFile'),
    dict(type='mmseg.LoadAnnotations'),
    dict(type='PackFusionInputs'),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(
            ir='train/Infrared', vis='train/Visible', seg='train/Label'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(
            ir='test/Infrared', vis='test/Visible', seg='test/Label'),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='FusionMetric')
test_evaluator = val_evaluator
