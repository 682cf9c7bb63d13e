# TarDAL (CVPR 2022): target-aware dual adversarial learning with the
# detection-driven cooperative training of the released v1.0 code
# (config/official/train/tardal-ct.yaml, scripts/train_fd.py), the detector
# being an mmdet RetinaNet-R50 on the MSRS boxes (person, bicycle, car)
# instead of the released YOLOv5s. The target critic sees the IR targets'
# regions: the union of each pair's ground-truth boxes.
#
# Published schedule (tardal-ct.yaml on M3FD): 300 epochs, batch 16 of
# 320x320 pairs, gradients accumulated to a nominal batch of 64; generator +
# detector: one SGD (lr 1e-2, nesterov, momentum 0.937, wd 5e-4 on conv and
# linear weights), gradient norm clipped at 10 over both, YOLOv5 warm-up
# (biases at lr 0.1 and every other weight at lr 0 for 2 epochs, then
# linear to the base lr by epoch 3, momentum 0.8 -> 0.937), then linear decay
# to 0.1 x; critics: SGD lr 1e-4 (same momentum, wd), constant; adversarial
# terms off in epoch 1 (d_warm, clamped by the script to round(bridge_warm /
# 2) = 1 epoch). The fused image reaches the detector without gradient (see
# docs/tardal.md).
# Used here: the same losses, weights, critics, optimisers and update order;
# one optimiser per network (clipping per network), LinearLR warm-up over 3
# epochs (all parameter groups alike, momentum constant) and linear decay
# to 0.1 x; 300 epochs of MSRS (1083 train pairs, 67 batches of 16 per
# epoch); mmengine divides accumulated losses by the accumulation count.
_base_ = [
    '../_base_/datasets/msrs_det.py', '../_base_/default_runtime.py',
    '../_base_/model_wrappers/fusion_separate_ddp.py'
]

size = 320  # training pairs are resized to size x size (as released)
model = dict(
    type='TarDAL',
    fusion_net=dict(type='TarDALGenerator', dim=32, depth=3),
    fusion_loss=dict(
        type='TarDALContentLoss',
        loss_weight=0.8,
        ir_weight=0.5,
        vis_weight=0.5),
    target_discriminator=dict(
        type='TarDALDiscriminator', dim=32, size=(size, size)),
    detail_discriminator=dict(
        type='TarDALDiscriminator', dim=32, size=(size, size)),
    adv_weight=0.2,
    target_weight=0.5,
    detail_weight=0.5,
    bridge=dict(fusion=0.5, task=0.5),
    div_k=2.,
    div_p=6.,
    detail_mask=False,
    task_to_fusion=False,  # released: the detector's input has no gradient
    task=dict(
        type='TaskAdapter',
        cfg_path='mmdet::retinanet/retinanet_r50_fpn_1x_coco.py',
        model=dict(bbox_head=dict(num_classes=3)),
        input_format='rgb'),
    colour='vis')

train_pipeline = [
    dict(type='LoadPairedImageFromFile'),
    dict(type='mmdet.LoadAnnotations', with_bbox=True, with_label=True),
    dict(type='mmdet.Resize', scale=(size, size), keep_ratio=False),
    dict(type='mmdet.RandomFlip', prob=0.5),
    dict(type='PackFusionInputs'),
]
batch_size = 16
train_dataloader = dict(
    batch_size=batch_size, dataset=dict(pipeline=train_pipeline))
val_evaluator = [
    dict(type='FusionMetric'),
    dict(
        type='mmdet.VOCMetric', metric='mAP', iou_thrs=[0.5],
        eval_mode='area'),
]
test_evaluator = val_evaluator

train_pairs = 1083
iters_per_epoch = train_pairs // batch_size
max_epochs = 300
warmup_epochs = 1  # released d_warm (adversarial terms off)
max_iters = max_epochs * iters_per_epoch

# detectors that share modules (RTMDet's heads across levels, NAS-FPN, FPG,
# EfficientNet's BiFPN) list a parameter once
_no_decay = dict(norm_decay_mult=0., bias_decay_mult=0., bypass_duplicate=True)
_sgd = dict(
    type='SGD', lr=1e-2, momentum=0.937, nesterov=True, weight_decay=5e-4)
_joint = dict(
    optimizer=_sgd,
    paramwise_cfg=_no_decay,
    accumulative_counts=4,  # nominal batch 64
    clip_grad=dict(max_norm=10.))
_critic = dict(optimizer=dict(_sgd, lr=1e-4), paramwise_cfg=_no_decay)
optim_wrapper = dict(
    constructor='MultiOptimWrapperConstructor',
    fusion_net=_joint,
    task=_joint,
    target_discriminator=_critic,
    detail_discriminator=_critic)
_sched = [
    dict(
        type='LinearLR',
        start_factor=1e-3,
        by_epoch=False,
        begin=0,
        end=3 * iters_per_epoch),
    dict(
        type='LinearLR',
        start_factor=1.,
        end_factor=0.1,
        by_epoch=False,
        begin=0,
        end=max_iters),
]
param_scheduler = dict(
    fusion_net=_sched,
    task=_sched,
    target_discriminator=[],
    detail_discriminator=[])
train_cfg = dict(
    type='PhasedTrainLoop',
    phases=[
        dict(name='warmup', iters=warmup_epochs * iters_per_epoch),
        dict(
            name='joint',
            iters=(max_epochs - warmup_epochs) * iters_per_epoch),
    ],
    max_iters=max_iters,
    val_interval=5 * iters_per_epoch)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=False,
        interval=5 * iters_per_epoch,
        max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'))
