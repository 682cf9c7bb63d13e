# SeAFusion joint adaptive training in the CPU-scale task-gain experiment
# (configs/task_gain/task_gain_msrs_mini_cpu.py): the published 4 rounds
# (beta_r = r; a new fusion net and Adam every round; the segmenter continues
# across rounds and is frozen inside the semantic loss) on msrs_mini
# downscaled to 160 x 120, with the experiment's segmenter architecture
# (segmenter_r18_160x120.py, fused RGB, from scratch — the published
# BiSeNet starts from ImageNet weights, which would be a download) trained
# with SeAFusion's OHEM cross-entropy.
# Scaled schedule per round: 3 fusion epochs (21 iterations of batch 8; Adam
# 1e-3 x 0.75^(e-1), published 10 epochs of 68) and 150 segmenter iterations
# of batch 8 (published 20,000 of 16; SGD 1e-2, exponential warm-up from
# 1e-4 over 50 iterations, then poly 0.9 over the 600 of all rounds).
_base_ = [
    '../seafusion/seafusion_joint_msrs.py',
    '../_base_/models/tiny_deeplabv3plus.py'
]

data_root = 'work_dirs/task_gain/msrs_mini_cpu/data/msrs_mini_160x120'
size = (160, 120)  # (w, h)
norm_cfg = dict(type='BN', requires_grad=True)  # the base's is SyncBN
ohem = dict(type='OHEMPixelSampler', thresh=0.7, min_kept=120 * 160 // 16)
model = dict(
    task=dict(
        _delete_=True,
        type='TaskAdapter',
        model=dict(
            _base_.tiny_segmentor,
            _scope_='mmseg',
            data_preprocessor=dict(
                _base_.tiny_segmentor.data_preprocessor, size_divisor=32),
            backbone=dict(_base_.tiny_segmentor.backbone, init_cfg=None),
            decode_head=dict(
                _base_.tiny_segmentor.decode_head,
                sampler=ohem,
                loss_decode=dict(
                    type='mmfusion.OHEMCrossEntropyLoss', loss_weight=1.0))),
        input_format='rgb'),
    semantic_loss_scale=None)  # one head: L_sem = OHEM-CE of the main head

fusion_pipeline = [
    dict(type='LoadPairedImageFromFile'),
    dict(type='mmseg.LoadAnnotations'),
    dict(type='PackFusionInputs'),
]
task_pipeline = [
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
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=fusion_pipeline))
val_dataloader = dict(
    num_workers=0, persistent_workers=False, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader

fusion_epoch_iters = 21  # 161 pairs, batch 8
fusion_iters = 3 * fusion_epoch_iters
task_iters = 150
rounds = 4
round_iters = fusion_iters + task_iters
warmup_iters = 50
optim_wrapper = dict(
    task=dict(
        optimizer=dict(lr=1e-4),  # warm-up from 1e-4 to 1e-2
        paramwise_cfg=dict(
            _delete_=True, custom_keys=dict(decode_head=dict(lr_mult=10.)))))
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
        dict(
            type='ExponentialLR',
            gamma=(1e-2 / 1e-4)**(1 / warmup_iters),
            by_epoch=False,
            begin=0,
            end=warmup_iters + 1),
        dict(
            type='PolyLR',
            power=0.9,
            eta_min=0.,
            by_epoch=False,
            begin=warmup_iters,
            end=rounds * task_iters + 1),
    ])
train_cfg = dict(
    phases=[
        dict(name='fusion', iters=fusion_iters),
        dict(
            name='task',
            iters=task_iters,
            batches_per_iter=0,
            extra_batches=dict(task=1)),
    ],
    extra_dataloaders=dict(
        task=dict(
            batch_size=8,
            num_workers=0,
            persistent_workers=False,
            dataset=dict(data_root=data_root, pipeline=task_pipeline))),
    max_iters=rounds * round_iters,
    val_interval=rounds * round_iters)
default_hooks = dict(
    logger=dict(interval=25),
    checkpoint=dict(interval=2 * round_iters, max_keep_ckpts=2))
