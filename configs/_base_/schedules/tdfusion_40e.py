# TDFusion's schedule (train.py): 40 epochs; each = 200 meta-steps of the loss
# generator (2 batches each) then one pass of fusion + task training. Adam
# 1e-4 for fusion net and task, StepLR(10 epochs, 0.1); the loss generator is
# updated by max-abs-normalised SGD with the fusion lr (model.outer_lr).
train_pairs = 1083  # MSRS train split, batch 1 pair (x2 by modality swap)
meta_steps = 200
iters_per_epoch = meta_steps + train_pairs
max_epochs = 40
optim_wrapper = dict(
    constructor='MultiOptimWrapperConstructor',
    fusion_net=dict(optimizer=dict(type='Adam', lr=1e-4, weight_decay=0)),
    loss_generator=dict(optimizer=dict(type='MaxAbsNormSGD', lr=1e-4)),
    task=dict(optimizer=dict(type='Adam', lr=1e-4, weight_decay=0)))
_step = dict(
    type='StepLR', step_size=10 * iters_per_epoch, gamma=0.1, by_epoch=False)
param_scheduler = dict(fusion_net=[_step], task=[_step], loss_generator=[])
train_cfg = dict(
    type='PhasedTrainLoop',
    phases=[
        dict(name='meta', iters=meta_steps, batches_per_iter=2),
        dict(name='fusion', iters='epoch'),
    ],
    max_iters=max_epochs * iters_per_epoch,
    val_interval=iters_per_epoch)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=False,
        interval=iters_per_epoch,
        max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'))
