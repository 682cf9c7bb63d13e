# TDFusion in the CPU-scale task-gain experiment
# (configs/task_gain/task_gain_msrs_mini_cpu.py): the published algorithm —
# ReFusion fusion net, loss generator, in-loop segmenter on the 1-channel
# fused Y, all three from scratch, meta steps alternating with fusion + task
# epochs, modality swap — on msrs_mini downscaled to 160 x 120.
# Scaled from the published schedule (40 epochs x (200 meta steps + 1083
# pairs), Adam 1e-4, StepLR x0.1 every 10 epochs): 5 epochs x (30 meta steps
# + 161 pairs) — the same meta : fusion ratio (0.18) — Adam 1e-3 (10x: ~50x
# fewer fusion steps), x0.1 after epoch 4; crops 64 x 64 (the published
# 256 / 640 of the width) and the whole 120 x 160 image as the task input.
# The in-loop segmenter is the experiment's segmenter
# (segmenter_r18_160x120.py) with a 1-channel input, as published.
_base_ = ['../tdfusion/segformer_msrs.py']

data_root = 'work_dirs/task_gain/msrs_mini_cpu/data/msrs_mini_160x120'
norm_cfg = dict(type='BN', requires_grad=True)
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
            _scope_='mmseg',
            type='EncoderDecoder',
            data_preprocessor=dict(
                type='SegDataPreProcessor',
                mean=[127.5],
                std=[127.5],
                pad_val=0,
                seg_pad_val=255,
                # no padding (mmseg 1.2.2's class-weighted CE fails on padded
                # labels, 255 in them): the 120 x 160 input as it is
                size=(120, 160)),
            backbone=dict(
                type='ResNetV1c',
                depth=18,
                in_channels=1,
                stem_channels=16,
                base_channels=16,
                out_indices=(0, 1, 2, 3),
                norm_cfg=norm_cfg,
                init_cfg=None),
            decode_head=dict(
                type='DepthwiseSeparableASPPHead',
                in_channels=128,
                in_index=3,
                channels=32,
                dilations=(1, 6, 12, 18),
                c1_in_channels=16,
                c1_channels=16,
                dropout_ratio=0.1,
                num_classes=9,
                norm_cfg=norm_cfg,
                align_corners=False,
                loss_decode=dict(
                    type='CrossEntropyLoss',
                    loss_weight=1.0,
                    class_weight=class_weight)),
            train_cfg=dict(),
            test_cfg=dict(mode='whole')),
        input_format='y'),
    fusion_crop_size=(64, 64),
    task_input_size=(120, 160))

train_dataloader = dict(
    batch_size=1,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root))
val_dataloader = dict(
    num_workers=0, persistent_workers=False, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader

train_pairs = 161
meta_steps = 30
iters_per_epoch = meta_steps + train_pairs
max_epochs = 5
optim_wrapper = dict(
    fusion_net=dict(optimizer=dict(lr=1e-3)),
    task=dict(optimizer=dict(lr=1e-3)))
_step = dict(
    type='MultiStepLR',
    milestones=[4 * iters_per_epoch],
    gamma=0.1,
    by_epoch=False)
param_scheduler = dict(fusion_net=[_step], task=[_step], loss_generator=[])
train_cfg = dict(
    max_iters=max_epochs * iters_per_epoch,
    val_interval=max_epochs * iters_per_epoch)
default_hooks = dict(
    logger=dict(interval=25),
    checkpoint=dict(interval=iters_per_epoch, max_keep_ckpts=5))
