# BDLFusion on MSRS segmentation (the paper's segmentation branch was not
# released): the follower task is mmseg's DeepLabV3+ (ResNet-50) on the fused
# RGB. MSRS has no validation split, so the upper-level batches are drawn,
# independently shuffled, from the train split (never from test).
_base_ = [
    '../_base_/models/bdlfusion_drdb.py', '../_base_/datasets/msrs.py',
    '../_base_/schedules/bdlfusion_bilevel.py', '../_base_/default_runtime.py',
    '../_base_/model_wrappers/fusion_separate_ddp.py'
]
model = dict(
    task=dict(
        type='TaskAdapter',
        cfg_path='mmseg::deeplabv3plus/'
        'deeplabv3plus_r50-d8_4xb2-40k_cityscapes-512x1024.py',
        model=dict(
            data_preprocessor=dict(size=None, size_divisor=32),
            decode_head=dict(num_classes=9),
            auxiliary_head=dict(num_classes=9)),
        # the released code's task input (raw fused Y + VIS chroma, clamped,
        # min-max over the batch)
        input_format='rgb_minmax'))
train_pipeline = [
    dict(type='LoadPairedImageFromFile'),
    dict(type='mmseg.LoadAnnotations'),
    dict(
        type='RandomResize',
        scale=(640, 480),
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='mmseg.RandomCrop', crop_size=(480, 480), cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackFusionInputs'),
]
train_dataloader = dict(batch_size=2, dataset=dict(pipeline=train_pipeline))
upper_dataloader = dict(
    batch_size=4,
    num_workers=2,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='MSRSDataset',
        data_root='data/MSRS',
        data_prefix=dict(
            ir='train/ir', vis='train/vi', seg='train/Segmentation_labels'),
        pipeline=train_pipeline))
train_cfg = dict(extra_dataloaders=dict(upper=upper_dataloader))
val_evaluator = [
    dict(type='FusionMetric'),
    # mIoU over all 9 MSRS classes incl. 'unlabelled', as papers report it;
    # exclude_from_mean=('unlabelled',) gives the 8-class mean
    dict(type='SegIoUMetric', iou_metrics=['mIoU'], exclude_from_mean=()),
]
test_evaluator = val_evaluator
