# BDLFusion in the CPU-scale task-gain experiment
# (configs/task_gain/task_gain_msrs_mini_cpu.py): the published bi-level
# algorithm — DRDB fusion net as the leader, pixel discriminator and the
# segmenter as followers, first-order hypergradients, dynamic (min-norm)
# aggregation — on msrs_mini downscaled to 160 x 120, with the experiment's
# segmenter (segmenter_r18_160x120.py, fused RGB input) as the follower task,
# from scratch. The fusion net starts from bdlfusion_warmup_160x120.py's
# checkpoint (the experiment sets `load_from`), as the released code starts
# from a pre-trained fusion model.
# Scaled schedule: 300 iterations of batch 2 (published batch: 2; 4 epochs),
# upper-level batches of 2 (published 4), the leader's step every 5th
# iteration (published 10; 60 leader steps), SGD lr 1e-2 for the
# followers (published 2e-4 over 720k iterations) with a 30-iteration linear
# warm-up; the leader's lr is tied to the task's (published).
_base_ = [
    '../bdlfusion/bdlfusion_drdb_deeplabv3plus_msrs.py',
    '../_base_/models/tiny_deeplabv3plus.py'
]

data_root = 'work_dirs/task_gain/msrs_mini_cpu/data/msrs_mini_160x120'
size = (160, 120)
# the experiment segmenter's class-weighted cross-entropy (see
# segmenter_r18_160x120.py; published: plain CE, with which this small
# in-loop segmenter learned background only in the CPU budget, leaving the
# task loss without information on people, cars and bikes)
class_weight = [1.0, 4.5, 6.5, 10.4, 1.0, 1.0, 1.0, 1.0, 1.0]
model = dict(
    task=dict(
        _delete_=True,
        type='TaskAdapter',
        model=dict(
            _base_.tiny_segmentor,
            _scope_='mmseg',
            data_preprocessor=dict(
                _base_.tiny_segmentor.data_preprocessor,
                # no padding (mmseg 1.2.2's class-weighted CE fails on padded
                # labels, 255 in them): the 120 x 160 input as it is
                size=(120, 160)),
            backbone=dict(_base_.tiny_segmentor.backbone, init_cfg=None),
            decode_head=dict(
                _base_.tiny_segmentor.decode_head,
                loss_decode=dict(
                    type='CrossEntropyLoss',
                    loss_weight=1.0,
                    class_weight=class_weight))),
        input_format='rgb'),
    # no padding: 160 x 120 images need none (the fusion net is stride 1; the
    # segmenter's own preprocessor pads its input to a multiple of 32)
    data_preprocessor=dict(size_divisor=None),
    # as the recorded experiment ran (before the published configs switched
    # to the released code's recipe: 'mean', raw output, per-image min-max):
    # min-norm aggregation, the straight-through clamp, clipped outputs
    fusion_net=dict(clamp_output=True),
    aggregation='min_norm',
    output_norm='clip')
train_pipeline = [
    dict(type='LoadPairedImageFromFile'),
    dict(type='mmseg.LoadAnnotations'),
    dict(
        type='RandomResize',
        scale=size,
        ratio_range=(1.0, 1.5),
        keep_ratio=True),
    dict(type='mmseg.RandomCrop', crop_size=(size[1], size[0])),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackFusionInputs'),
]
test_pipeline = [
    dict(type='LoadPairedImageFromFile'),
    dict(type='mmseg.LoadAnnotations'),
    dict(type='PackFusionInputs'),
]
train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
# MSRS has no validation split: the upper-level batches come, independently
# shuffled, from the train split (never from test)
upper_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='MSRSDataset',
        data_root=data_root,
        data_prefix=dict(
            ir='train/ir', vis='train/vi', seg='train/Segmentation_labels'),
        pipeline=train_pipeline))
upper_interval = 5
max_iters = 300
_follower = dict(
    optimizer=dict(type='SGD', lr=1e-2, momentum=0.9, weight_decay=1e-4))
optim_wrapper = dict(
    fusion_net=dict(
        optimizer=dict(type='SGD', lr=1e-2, momentum=0., weight_decay=1e-3)),
    discriminator=_follower,
    task=_follower)
_sched = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=False, begin=0, end=30),
    dict(
        type='PolyLR',
        power=0.9,
        eta_min=1e-4,
        by_epoch=False,
        begin=30,
        end=max_iters),
]
param_scheduler = dict(fusion_net=[], discriminator=_sched, task=_sched)
train_cfg = dict(
    phases=[
        dict(name='lower', iters=upper_interval - 1),
        dict(name='upper', iters=1, extra_batches=dict(upper=1)),
    ],
    extra_dataloaders=dict(upper=upper_dataloader),
    max_iters=max_iters,
    val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=25),
    checkpoint=dict(interval=max_iters // 2, max_keep_ckpts=2))
