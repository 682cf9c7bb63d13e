custom_hooks = [
    dict(type='FusedImageSaveHook'),
    dict(type='RNGStateHook'),
]
data_root = 'work_dirs/task_gain/msrs_mini_cpu320/data/msrs_mini_320x240'
dataset_type = 'MSRSDataset'
default_hooks = dict(
    checkpoint=dict(
        by_epoch=False, interval=41, max_keep_ckpts=1, type='CheckpointHook'),
    logger=dict(interval=20, log_metric_by_epoch=False, type='LoggerHook'),
    param_scheduler=dict(type='ParamSchedulerHook'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    timer=dict(type='IterTimerHook'))
default_scope = 'mmfusion'
env_cfg = dict(
    cudnn_benchmark=False,
    dist_cfg=dict(backend='nccl'),
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0))
experiment_name = 'BDLFusion_warm-up_s2_20261207_204038_caf7a8'
iters_per_epoch = 41
launcher = 'none'
load_from = None
log_level = 'INFO'
log_processor = dict(by_epoch=False)
max_iters = 41
model = dict(
    colour='vis',
    data_preprocessor=dict(size_divisor=32, type='FusionDataPreprocessor'),
    fusion_loss=dict(type='SaliencyTargetLoss'),
    fusion_net=dict(clamp_output=True, type='DRDBFusionNet'),
    output_norm='clip',
    type='FusionModel')
optim_wrapper = dict(
    optimizer=dict(lr=0.001, type='Adam'), type='OptimWrapper')
param_scheduler = []
randomness = dict(seed=2)
resume = False
runner_type = 'mmfusion.FusionRunner'
test_cfg = dict(type='TestLoop')
test_dataloader = dict(
    batch_size=1,
    dataset=dict(
        data_prefix=dict(
            ir='test/ir', seg='test/Segmentation_labels', vis='test/vi'),
        data_root=
        '/work/main/work_dirs/task_gain/msrs_mini_cpu320/data/msrs_mini_320x240',
        pipeline=[
            dict(type='LoadPairedImageFromFile'),
            dict(type='mmseg.LoadAnnotations'),
            dict(type='PackFusionInputs'),
        ],
        type='MSRSDataset'),
    num_workers=0,
    persistent_workers=False,
    sampler=dict(shuffle=False, type='DefaultSampler'))
test_evaluator = dict(type='FusionMetric')
test_pipeline = [
    dict(type='LoadPairedImageFromFile'),
    dict(type='mmseg.LoadAnnotations'),
    dict(type='PackFusionInputs'),
]
train_cfg = dict(max_iters=41, type='IterBasedTrainLoop', val_interval=41)
train_dataloader = dict(
    batch_size=4,
    dataset=dict(
        data_prefix=dict(
            ir='train/ir', seg='train/Segmentation_labels', vis='train/vi'),
        data_root=
        '/work/main/work_dirs/task_gain/msrs_mini_cpu320/data/msrs_mini_320x240',
        pipeline=[
            dict(type='LoadPairedImageFromFile'),
            dict(prob=0.5, type='RandomFlip'),
            dict(type='PackFusionInputs'),
        ],
        type='MSRSDataset'),
    num_workers=0,
    persistent_workers=False,
    sampler=dict(shuffle=True, type='InfiniteSampler'))
train_pipeline = [
    dict(type='LoadPairedImageFromFile'),
    dict(prob=0.5, type='RandomFlip'),
    dict(type='PackFusionInputs'),
]
val_cfg = dict(type='ValLoop')
val_dataloader = dict(
    batch_size=1,
    dataset=dict(
        data_prefix=dict(
            ir='test/ir', seg='test/Segmentation_labels', vis='test/vi'),
        data_root=
        '/work/main/work_dirs/task_gain/msrs_mini_cpu320/data/msrs_mini_320x240',
        pipeline=[
            dict(type='LoadPairedImageFromFile'),
            dict(type='mmseg.LoadAnnotations'),
            dict(type='PackFusionInputs'),
        ],
        type='MSRSDataset'),
    num_workers=0,
    persistent_workers=False,
    sampler=dict(shuffle=False, type='DefaultSampler'))
val_evaluator = dict(type='FusionMetric')
vis_backends = [
    dict(type='LocalVisBackend'),
]
visualizer = dict(
    name='BDLFusion_warm-up_s2_20261207_204038_caf7a8',
    type='Visualizer',
    vis_backends=[
        dict(type='LocalVisBackend'),
    ])
work_dir = '/work/main/work_dirs/task_gain/msrs_mini_cpu320/methods/BDLFusion/seed_2/warmup'
