# M3FD (TarDAL, CVPR 2022), detection release: data/M3FD/{Ir,Vis,Annotation}
# with VOC xml; M3FD has no official split, write one first:
#   python tools/dataset_converters/make_split.py data/M3FD --val 600 --seed 0
# (meta/train.txt + meta/val.txt; TarDAL's own meta/*.txt work as well).
# mmdet's CocoMetric works from the packed boxes (no ann_file), or from a
# json: python tools/dataset_converters/voc2coco.py data/M3FD \
#       --split-file meta/val.txt --out data/M3FD/annotations/val_coco.json
dataset_type = 'M3FDDataset'
data_root = 'data/M3FD'

train_pipeline = [
    dict(type='LoadPairedImageFromFile'),
    dict(type='mmdet.LoadAnnotations', with_bbox=True, with_label=True),
    dict(
        type='RandomResize',
        scale=(1024, 768),
        ratio_range=(0.5, 1.5),
        keep_ratio=True,
        resize_type='mmdet.Resize'),
    dict(
        type='mmdet.RandomCrop',
        crop_size=(640, 640),
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
    dict(type='mmdet.Resize', scale=(1024, 768), keep_ratio=True),
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
        ann_file='meta/train.txt',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='meta/val.txt',
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='FusionMetric')
test_evaluator = val_evaluator
