# MSRS segmentation for task-driven evaluation: an ordinary mmseg pipeline
# that loads ONE image of each pair with mmfusion.LoadModalityImage.
# tools/task_eval.py sets `modality` ('vis', 'ir', 'fused') and the fused
# folder (data_prefix['fused']) per evaluated input; labels, pairs and
# augmentation are the same for every input. Types carry their scope, so the
# file serves mmseg-scoped (and mmfusion-scoped) configs.
dataset_type = 'mmfusion.MSRSDataset'
data_root = 'data/MSRS'
crop_size = (480, 640)
train_pipeline = [
    dict(type='mmfusion.LoadModalityImage', modality='vis'),
    dict(type='mmseg.LoadAnnotations'),
    # mmcv's RandomResize is registered in mmengine's root registry only:
    # 'mmseg.RandomResize' is not found from the mmseg scope, the plain name
    # is (from the mmseg and the mmfusion scope alike)
    dict(
        type='RandomResize',
        scale=(640, 480),
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='mmseg.RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='mmseg.RandomFlip', prob=0.5),
    dict(type='mmseg.PhotoMetricDistortion'),
    dict(type='mmseg.PackSegInputs'),
]
test_pipeline = [
    dict(type='mmfusion.LoadModalityImage', modality='vis'),
    dict(type='mmseg.LoadAnnotations'),
    dict(type='mmseg.PackSegInputs'),
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
            ir='train/ir', vis='train/vi', seg='train/Segmentation_labels'),
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
            ir='test/ir', vis='test/vi', seg='test/Segmentation_labels'),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
# mIoU over all 9 classes incl. 'unlabelled' (the papers' convention);
# exclude_from_mean=('unlabelled', ) gives the 8-class mean.
val_evaluator = dict(
    type='mmfusion.SegIoUMetric',
    iou_metrics=['mIoU'],
    exclude_from_mean=(),
    per_class=True)
test_evaluator = val_evaluator
