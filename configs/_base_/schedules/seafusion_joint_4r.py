# SeAFusion's joint adaptive schedule (train.py): rounds r = 0..3, each
#   'fusion': 10 epochs of the fusion net on full MSRS train images (1083
#             pairs, batch 16 -> 68 iterations per epoch), Adam with
#             lr = 1e-3 * 0.75^(e - 1) in epoch e = 0..9, restarting every
#             round (new net, new Adam);
#   'task':   20,000 iterations of the segmenter, continuing across rounds:
#             SGD momentum 0.9, wd 5e-4 on conv/linear weights only (no
#             decay of norm and bias parameters: the released get_params),
#             heads x10 lr, a new SGD (momentum buffers) every round
#             (model.reset_task_optimizer); exponential warm-up
#             from 1e-5 to lr0 = 1e-2 over its first 1000 iterations, then
#             poly(0.9) to its iteration 80,000 (= 4 x 20,000: the released
#             iteration counter is offset by r x 20000).
# PhasedParamSchedulerHook steps each optimiser's schedulers only in its own
# phase and restarts the fusion net's at every round.
fusion_epoch_iters = 68
fusion_epochs = 10
fusion_iters = fusion_epochs * fusion_epoch_iters
task_iters = 20000
rounds = 4
round_iters = fusion_iters + task_iters
task_lr = 1e-2
warmup_start_lr = 1e-5
warmup_iters = 1000

optim_wrapper = dict(
    constructor='MultiOptimWrapperConstructor',
    fusion_net=dict(optimizer=dict(type='Adam', lr=1e-3 / 0.75)),
    task=dict(
        # norm and bias decay rules apply to the heads' parameters too
        # (mmengine's default constructor lets custom_keys override them)
        constructor='DecayRulesOptimWrapperConstructor',
        # the optimiser starts at the warm-up's first lr
        optimizer=dict(
            type='SGD', lr=warmup_start_lr, momentum=0.9, weight_decay=5e-4),
        paramwise_cfg=dict(
            # released model_TII.py get_params: BN weights/biases and conv
            # biases in the weight_decay=0 groups (optimizer.py)
            norm_decay_mult=0.,
            bias_decay_mult=0.,
            custom_keys=dict(
                decode_head=dict(lr_mult=10.),
                auxiliary_head=dict(lr_mult=10.)),
            # tasks that share modules (e.g. RTMDet's heads across levels)
            bypass_duplicate=True)))
param_scheduler = dict(
    fusion_net=[
        dict(
            type='StepLR',
            step_size=fusion_epoch_iters,
            gamma=0.75,
            by_epoch=False,
            begin=0,
            end=fusion_iters)
    ],
    task=[
        # lr = 1e-5 * (lr0 / 1e-5)^(t / 1000) for t <= 1000
        dict(
            type='ExponentialLR',
            gamma=(task_lr / warmup_start_lr)**(1 / warmup_iters),
            by_epoch=False,
            begin=0,
            end=warmup_iters + 1),
        # lr = lr0 * (1 - (t - 1000) / (80000 - 1000))^0.9 (PolyLR reaches
        # eta_min after end - begin - 1 steps)
        dict(
            type='PolyLR',
            power=0.9,
            eta_min=0.,
            by_epoch=False,
            begin=warmup_iters,
            end=rounds * task_iters + 1),
    ])
train_cfg = dict(
    type='PhasedTrainLoop',
    phases=[
        dict(name='fusion', iters=fusion_iters),
        # the task phase draws from its own loader (the segmenter's
        # augmentation): extra_dataloaders=dict(task=...) in the config
        dict(
            name='task',
            iters=task_iters,
            batches_per_iter=0,
            extra_batches=dict(task=1)),
    ],
    max_iters=rounds * round_iters,
    val_interval=round_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(
        type='PhasedParamSchedulerHook',
        phases=dict(fusion_net='fusion', task='task'),
        restart=['fusion_net']),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=2000,
        max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'))
