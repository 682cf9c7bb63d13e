# MSRS in its official layout:
# data/MSRS/{train,test}/{ir,vi,Segmentation_labels} (9 segmentation classes).
# Detection boxes ({split}/Detection_labels): msrs_det.py; both at once:
# docs/datasets.md section 3.
dataset_type = 'MSRSDataset'
data_root = 'data/MSRS'

train_pipeline = [
    dict(type='LoadPairedImageFromFile'),
    dict(type='mmseg.LoadAnnotations'),
    dict(type='PackFusionInputs'),
]
test_pipeline = [
    dict(type='LoadPairedImageFromFile'),
    dict(type='mmseg.LoadAnnotations'),
    dict(type='PackFusionInputs'),
]
train_dataloader = dict(
    batch_size=16,
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
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='FusionMetric')
test_evaluator = val_evaluator
