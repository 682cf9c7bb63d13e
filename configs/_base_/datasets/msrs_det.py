# MSRS for detection: its YOLO boxes ({split}/Detection_labels, 0 person,
# 1 bicycle, 2 car) next to the images. Geometric transforms are mmdet's, which
# move the stacked IR+VIS image, the boxes (and masks, if loaded) together;
# photometric ones touch VIS only (ApplyToVis).
# mmdet's CocoMetric works from the packed boxes:
#   dict(type='mmdet.CocoMetric', metric='bbox')
# or from a json (tools/dataset_converters/yolo2coco.py data/MSRS --split
# test) with ann_file='data/MSRS/annotations/test_det_coco.json'.
dataset_type = 'MSRSDataset'
data_root = 'data/MSRS'

train_pipeline = [
    dict(type='LoadPairedImageFromFile'),
    dict(type='mmdet.LoadAnnotations', with_bbox=True, with_label=True),
    dict(
        type='RandomResize',
        scale=(640, 480),
        ratio_range=(0.5, 1.5),
        keep_ratio=True,
        resize_type='mmdet.Resize'),
    dict(
        type='mmdet.RandomCrop',
        crop_size=(480, 480),
        allow_negative_crop=True),  # crop_size is (w, h)
    dict(type='mmdet.RandomFlip', prob=0.5),
    dict(
        type='ApplyToVis',
        transforms=[dict(type='mmdet.PhotoMetricDistortion')]),
    dict(
        type='mmdet.FilterAnnotations',
        min_gt_bbox_wh=(1, 1),
        keep_empty=False),
    dict(type='PackFusionInputs'),
]
test_pipeline = [
    dict(type='LoadPairedImageFromFile'),
    # records scale_factor (1 here), which mmdet's predict needs
    dict(type='mmdet.Resize', scale=(640, 480), keep_ratio=True),
    # loaded after Resize: ground truth stays at the original size, where
    # mmdet/mmseg metrics compare it with the rescaled predictions
    dict(type='mmdet.LoadAnnotations', with_bbox=True, with_label=True),
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
            ir='train/ir', vis='train/vi', det='train/Detection_labels'),
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
            ir='test/ir', vis='test/vi', det='test/Detection_labels'),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='FusionMetric')
test_evaluator = val_evaluator
