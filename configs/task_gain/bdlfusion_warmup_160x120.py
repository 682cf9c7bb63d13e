# Warm start of BDLFusion in the CPU-scale task-gain experiment: the released
# BDLFusion training starts its fusion net from a pre-trained fusion model
# (model_ijcai_fusion_add_1.pth, not available); the experiment reproduces
# that start by training the DRDB fusion net alone on the BDLFusion fusion
# loss (L1 + 1.1 (1 - SSIM) to the saliency pseudo-target) for 2 epochs of
# the 161 msrs_mini training pairs at 160 x 120 (Adam 1e-3, batch 4, random
# flips). bdlfusion_r18_160x120.py then starts from its last checkpoint.
_base_ = [
    '../_base_/models/bdlfusion_drdb.py', '../_base_/datasets/msrs.py',
    '../_base_/default_runtime.py'
]
data_root = 'work_dirs/task_gain/msrs_mini_cpu/data/msrs_mini_160x120'
model = dict(
    _delete_=True,
    type='FusionModel',
    data_preprocessor=dict(type='FusionDataPreprocessor', size_divisor=32),
    # (the straight-through clamp, as the recorded experiment ran)
    fusion_net=dict(type='DRDBFusionNet', clamp_output=True),
    fusion_loss=dict(type='SaliencyTargetLoss'),
    colour='vis',
    output_norm='clip')
train_pipeline = [
    dict(type='LoadPairedImageFromFile'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackFusionInputs'),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=0, persistent_workers=False, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
iters_per_epoch = 41  # 161 pairs, batch 4
max_iters = 2 * iters_per_epoch
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3))
param_scheduler = []
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=False,
        interval=max_iters,
        max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'))
