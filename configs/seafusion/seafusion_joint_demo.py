# Demo: SeAFusion's joint adaptive training on the 12 MSRS pairs bundled in
# data/msrs_demo, in a few minutes on 2 CPU cores: the published 4 rounds
# (beta_r = 0, 1, 2, 3; fusion net re-initialised every round; the segmenter
# continues), each 2 fusion epochs (8 iterations) + 8 segmenter iterations, on
# images downscaled to 120 x 160 and a BiSeNetV1 at 1/4 width (0.8 M params).
#   python tools/train.py configs/seafusion/seafusion_joint_demo.py
# The log shows round / beta, fusion.* (content + sem.* terms from round 1)
# and task.*; validation after rounds 2 and 4 writes fused images, fusion
# metrics and the segmenter's mIoU on the fused test pairs.
_base_ = ['./seafusion_joint_msrs.py']

data_root = 'data/msrs_demo'
size = (160, 120)  # (w, h)
norm_cfg = dict(type='BN', requires_grad=True)
ohem = dict(type='OHEMPixelSampler', thresh=0.7, min_kept=120 * 160 // 16)
model = dict(
    task=dict(
        model=dict(
            backbone=dict(
                context_channels=(32, 64, 128),
                spatial_channels=(16, 16, 16, 32),
                out_channels=64,
                norm_cfg=norm_cfg,
                backbone_cfg=dict(
                    base_channels=16,
                    stem_channels=16,
                    norm_cfg=norm_cfg,
                    init_cfg=None)),  # from scratch: no download
            decode_head=dict(
                in_channels=64, channels=32, norm_cfg=norm_cfg, sampler=ohem),
            auxiliary_head=dict(
                in_channels=32, channels=16, norm_cfg=norm_cfg,
                sampler=ohem))))

fusion_pipeline = [
    dict(type='LoadPairedImageFromFile'),
    dict(type='mmseg.LoadAnnotations'),
    dict(type='Resize', scale=size, keep_ratio=True),
    dict(type='PackFusionInputs'),
]
task_pipeline = [
    dict(type='LoadPairedImageFromFile'),
    dict(type='mmseg.LoadAnnotations'),
    dict(
        type='RandomChoiceResize',
        scales=[(int(size[0] * s), int(size[1] * s))
                for s in (0.75, 1.0, 1.25, 1.5, 1.75, 2.0)],
        keep_ratio=True),
    dict(type='mmseg.RandomCrop', crop_size=(size[1], size[0])),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackFusionInputs'),
]
train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=fusion_pipeline))
# (validation on the 4 bundled test pairs at full resolution: FusionMetric
# compares the fused images with the original files)
val_dataloader = dict(
    num_workers=0, persistent_workers=False, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader

fusion_epoch_iters = 4  # 8 bundled train pairs, batch 2
fusion_iters = 2 * fusion_epoch_iters
task_iters = 8
rounds = 4
round_iters = fusion_iters + task_iters
warmup_iters = 4
optim_wrapper = dict(
    task=dict(optimizer=dict(lr=1e-4)))  # warm-up from 1e-4 to 1e-2
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
            batch_size=2,
            num_workers=0,
            persistent_workers=False,
            dataset=dict(data_root=data_root, pipeline=task_pipeline))),
    max_iters=rounds * round_iters,
    val_interval=2 * round_iters)
default_hooks = dict(
    logger=dict(interval=4), checkpoint=dict(interval=2 * round_iters))
