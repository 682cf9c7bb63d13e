# TNO Image Fusion Dataset (Toet, figshare): ir/*.png + vi/*.png stored as 3
# identical channels (the loader makes IR 1-channel and flags the gray VIS),
# sizes vary. Fusion only (no labels): a test set.
dataset_type = 'PairedImageDataset'
data_root = 'data/TNO'

test_pipeline = [
    dict(type='LoadPairedImageFromFile'),
    dict(type='PackFusionInputs'),
]
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(ir='ir', vis='vi'),
        test_mode=True,
        pipeline=test_pipeline))
val_dataloader = test_dataloader
test_evaluator = dict(type='FusionMetric')
val_evaluator = test_evaluator
