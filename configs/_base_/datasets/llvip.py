# LLVIP (ICCVW 2021) in its released layout:
# data/LLVIP/{infrared,visible}/{train,test}/*.jpg + Annotations/*.xml (VOC,
# shared by both splits), one class: person. mmdet's CocoMetric works from
# the packed boxes (no ann_file), or from a json:
#   python tools/dataset_converters/voc2coco.py data/LLVIP \
#       --dataset LLVIPDataset --ir infrared/test --vis visible/test \
#       --out data/LLVIP/annotations/test_coco.json
dataset_type = 'LLVIPDataset'
data_root = 'data/LLVIP'

train_pipeline = [
    dict(type='LoadPairedImageFromFile'),
    dict(type='mmdet.LoadAnnotations', with_bbox=True, with_label=True),
    dict(
        type='RandomResize',
        scale=(1280, 1024),
        ratio_range=(0.5, 1.0),
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
    dict(type='mmdet.Resize', scale=(1280, 1024), keep_ratio=True),
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
            ir='infrared/train', vis='visible/train', det='Annotations'),
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
            ir='infrared/test', vis='visible/test', det='Annotations'),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='FusionMetric')
test_evaluator = val_evaluator
