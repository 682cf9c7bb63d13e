# MSRS detection (person, bicycle, car; YOLO labels) for task-driven
# evaluation: an ordinary mmdet pipeline that loads ONE image of each pair
# with mmfusion.LoadModalityImage (tools/task_eval.py sets the modality and
# the fused folder per evaluated input).
dataset_type = 'mmfusion.MSRSDataset'
data_root = 'data/MSRS'
train_pipeline = [
    dict(type='mmfusion.LoadModalityImage', modality='vis'),
    dict(type='mmdet.LoadAnnotations', with_bbox=True),
    dict(type='mmdet.Resize', scale=(640, 480), keep_ratio=True),
    dict(type='mmdet.RandomFlip', prob=0.5),
    dict(type='mmdet.PackDetInputs'),
]
test_pipeline = [
    dict(type='mmfusion.LoadModalityImage', modality='vis'),
    dict(type='mmdet.Resize', scale=(640, 480), keep_ratio=True),
    dict(type='mmdet.LoadAnnotations', with_bbox=True),
    # 'instances' lets CocoMetric build its ground truth from the dataset
    # (no COCO json needed)
    dict(
        type='mmdet.PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor', 'instances')),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='mmdet.AspectRatioBatchSampler'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(
            ir='train/ir', vis='train/vi', det='train/Detection_labels'),
        filter_cfg=dict(filter_empty_gt=True),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(
            ir='test/ir', vis='test/vi', det='test/Detection_labels'),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
# mAP@0.5 (VOC, area) as the fusion papers, and COCO mAP@.5:.95
val_evaluator = [
    dict(
        type='mmdet.VOCMetric', metric='mAP', iou_thrs=[0.5],
        eval_mode='area'),
    dict(type='mmdet.CocoMetric', metric='bbox'),
]
test_evaluator = val_evaluator
