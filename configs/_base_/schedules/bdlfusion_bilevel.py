# BDLFusion's schedule (train.py, architect_average2.py): followers (D, task)
# every iteration, SGD lr 2e-4 momentum .9 wd 1e-4, linear warm-up over 1000
# iterations, x0.1 at iteration 30,000 and x0.01 at 39,999 (0-based; the
# released loop's GLOBAL_STEPS 30001 and 40000); the leader (fusion net)
# every 10th iteration by its hypergradient, SGD wd 1e-3 with lr = the task's
# current lr.
# The upper-level batch comes from the validation split (`upper` loader; each
# config points it at its dataset). Published: 400 epochs of batch 2.
upper_interval = 10
max_iters = 720000  # 400 epochs x 3600 M3FD train pairs / batch 2
_follower = dict(
    optimizer=dict(type='SGD', lr=2e-4, momentum=0.9, weight_decay=1e-4))
optim_wrapper = dict(
    constructor='MultiOptimWrapperConstructor',
    fusion_net=dict(
        optimizer=dict(type='SGD', lr=2e-4, momentum=0., weight_decay=1e-3)),
    discriminator=_follower,
    task=_follower)
_sched = [
    dict(
        type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=1000),
    dict(
        type='MultiStepLR',
        milestones=[30000, 39999],
        gamma=0.1,
        by_epoch=False,
        begin=0,
        end=max_iters),
]
param_scheduler = dict(fusion_net=[], discriminator=_sched, task=_sched)
train_cfg = dict(
    type='PhasedTrainLoop',
    phases=[
        dict(name='lower', iters=upper_interval - 1),
        dict(name='upper', iters=1, extra_batches=dict(upper=1)),
    ],
    max_iters=max_iters,
    val_interval=10000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=False,
        interval=10000,
        max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'))
