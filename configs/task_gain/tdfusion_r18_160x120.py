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
_base_ = [
    '../tdfusion/segformer_msrs.py', '../_base_/models/tiny_deeplabv3plus.py'
]

data_root = 'work_dirs/task_gain/msrs_mini_cpu/data/msrs_mini_160x120'
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
                type='SegDataPreProcessor',
                mean=[127.5],
                std=[127.5],
                pad_val=0,
                seg_pad_val=255,
                # no padding (mmseg 1.2.2's class-weighted CE fails on padded
                # labels, 255 in them): the 120 x 160 input as it is
                size=(120, 160)),
            backbone=dict(
                _base_.tiny_segmentor.backbone, in_channels=1, init_cfg=None),
            decode_head=dict(
                _base_.tiny_segmentor.decode_head,
                loss_decode=dict(
                    type='CrossEntropyLoss',
                    loss_weight=1.0,
                    class_weight=class_weight))),
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
