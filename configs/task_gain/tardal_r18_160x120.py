# TarDAL in the detection task-gain experiment at CPU scale
# (task_gain_msrs_mini_det_cpu.py): tardal_retinanet_msrs.py on msrs_mini
# downscaled to 160 x 120, its in-loop detector the tiny RetinaNet of the
# CPU demos (_base_/models/tiny_retinanet.py, from scratch).
# The task-driven part is the paper's cooperative training
# (task_to_fusion=True: the detection loss of the train-mode fused image
# reaches the generator through the frozen detector). As released
# (task_to_fusion=False) the detector never reaches the generator: the
# method is then its task-free twin step for step
# (tests/test_models/test_tardal_train.py), so there is nothing to measure.
# Traded for the CPU budget (the published recipe: 320 x 320, dim 32,
# batch 16 x 4 accumulated, SGD 1e-2, 300 epochs, YOLOv5s): pairs resized to
# 160 x 120 (the resolution of the experiment's data), generator and critics
# at half width (dim 16), batch 8 without accumulation, SGD 1e-3 for the
# generator and detector (as the demo), 1 warm-up + 7 joint epochs.
# SCHEDULE: 8 epochs of 20 iterations (161 pairs, batch 8).
_base_ = [
    '../tardal/tardal_retinanet_msrs.py', '../_base_/models/tiny_retinanet.py'
]
data_root = 'work_dirs/task_gain/msrs_mini_det_cpu/data/msrs_mini_160x120'
size = (160, 120)  # (w, h)
model = dict(
    fusion_net=dict(dim=16),
    target_discriminator=dict(dim=16, size=(size[1], size[0])),
    detail_discriminator=dict(dim=16, size=(size[1], size[0])),
    task_to_fusion=True,
    task=dict(
        _delete_=True,
        type='TaskAdapter',
        model=dict(
            _base_.tiny_detector,
            _scope_='mmdet',
            test_cfg=dict(_base_.tiny_detector.test_cfg, max_per_img=20)),
        input_format='rgb'))
train_pipeline = [
    dict(type='LoadPairedImageFromFile'),
    dict(type='mmdet.LoadAnnotations', with_bbox=True, with_label=True),
    dict(type='mmdet.Resize', scale=size, keep_ratio=False),
    dict(type='mmdet.RandomFlip', prob=0.5),
    dict(type='PackFusionInputs'),
]
test_pipeline = [
    dict(type='LoadPairedImageFromFile'),
    dict(type='mmdet.LoadAnnotations', with_bbox=True, with_label=True),
    dict(type='PackFusionInputs'),
]
batch_size = 8
train_dataloader = dict(
    batch_size=batch_size,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
_joint = dict(accumulative_counts=1, optimizer=dict(lr=1e-3))
optim_wrapper = dict(
    fusion_net=_joint,
    task=_joint,
    target_discriminator=dict(optimizer=dict(lr=1e-4)),
    detail_discriminator=dict(optimizer=dict(lr=1e-4)))
param_scheduler = dict(
    fusion_net=[], task=[], target_discriminator=[], detail_discriminator=[])
iters_per_epoch = 161 // batch_size
max_iters = 8 * iters_per_epoch
train_cfg = dict(
    phases=[
        dict(name='warmup', iters=iters_per_epoch),
        dict(name='joint', iters=7 * iters_per_epoch)
    ],
    max_iters=max_iters,
    val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
