# BDLFusion on M3FD with the published follower: FCOS-R50 (GN head,
# centre-ness on the regression branch, GIoU), 6 classes, fed the fused Y with
# the VIS chroma (RGB). Train batches: long side 360; upper-level batches from
# the validation split, as published (the released augmentation's rotation
# and crop-resize are not reproduced: docs/bdlfusion.md).
_base_ = [
    '../_base_/models/bdlfusion_drdb.py', '../_base_/datasets/m3fd.py',
    '../_base_/schedules/bdlfusion_bilevel.py', '../_base_/default_runtime.py',
    '../_base_/model_wrappers/fusion_separate_ddp.py'
]
model = dict(
    task=dict(
        type='TaskAdapter',
        cfg_path='mmdet::fcos/fcos_r50-caffe_fpn_gn-head-center-normbbox-'
        'centeronreg-giou_1x_coco.py',
        model=dict(
            bbox_head=dict(num_classes=6),
            # the released detector sees the RGB in [0, 1] (its collate_fn
            # normalises with mean 0, std 1), not caffe-style BGR - mean
            data_preprocessor=dict(
                mean=[0., 0., 0.], std=[255., 255., 255.], bgr_to_rgb=True)),
        # the released code's task input (raw fused Y + VIS chroma, clamped,
        # min-max over the batch)
        input_format='rgb_minmax'))
train_pipeline = [
    dict(type='LoadPairedImageFromFile'),
    dict(type='mmdet.LoadAnnotations', with_bbox=True, with_label=True),
    # the released loader's resize_size=[512, 360] makes the long side 360
    # (1024 x 768 -> 360 x 270, padded to 384 x 288 by the preprocessor)
    dict(type='mmdet.Resize', scale=(360, 360), keep_ratio=True),
    dict(type='mmdet.RandomFlip', prob=0.5),
    dict(
        type='mmdet.FilterAnnotations',
        min_gt_bbox_wh=(1, 1),
        keep_empty=False),
    dict(type='PackFusionInputs'),
]
train_dataloader = dict(batch_size=2, dataset=dict(pipeline=train_pipeline))
upper_dataloader = dict(
    batch_size=4,
    num_workers=2,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='M3FDDataset',
        data_root='data/M3FD',
        ann_file='meta/val.txt',
        pipeline=train_pipeline))
train_cfg = dict(extra_dataloaders=dict(upper=upper_dataloader))
val_evaluator = [
    dict(type='FusionMetric'),
    dict(
        type='mmdet.VOCMetric', metric='mAP', iou_thrs=[0.5],
        eval_mode='area'),
    dict(type='mmdet.CocoMetric', metric='bbox'),  # mAP@.5:.95
]
test_evaluator = val_evaluator
