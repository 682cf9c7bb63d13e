# SeAFusion's fusion-net schedule (train.py): Adam, 10 epochs of full MSRS
# (1083 pairs, batch 16 -> 68 iterations per epoch), lr 1e-3 * 0.75^(e-1) in
# epoch e = 0..9, i.e. 1.333e-3 decayed by 0.75 once per epoch.
iters_per_epoch = 68
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3 / 0.75))
param_scheduler = [
    dict(
        type='StepLR',
        step_size=iters_per_epoch,
        gamma=0.75,
        by_epoch=False,
        begin=0,
        end=10 * iters_per_epoch)
]
train_cfg = dict(
    type='IterBasedTrainLoop',
    max_iters=10 * iters_per_epoch,
    val_interval=iters_per_epoch)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=10, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=iters_per_epoch),
    sampler_seed=dict(type='DistSamplerSeedHook'))
