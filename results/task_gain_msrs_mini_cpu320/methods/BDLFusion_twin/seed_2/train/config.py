_follower = dict(
    optimizer=dict(lr=0.01, momentum=0.9, type='SGD', weight_decay=0.0001))
_sched = [
    dict(begin=0, by_epoch=False, end=15, start_factor=0.01, type='LinearLR'),
    dict(
        begin=15,
        by_epoch=False,
        end=150,
        eta_min=0.0001,
        power=0.9,
        type='PolyLR'),
]
class_weight = [
    1.0,
    4.5,
    6.5,
    10.4,
    1.0,
    1.0,
    1.0,
    1.0,
    1.0,
]
custom_hooks = [
    dict(type='FusedImageSaveHook'),
    dict(type='RNGStateHook'),
]
data_root = 'work_dirs/task_gain/msrs_mini_cpu320/data/msrs_mini_320x240'
dataset_type = 'MSRSDataset'
default_hooks = dict(
    checkpoint=dict(
        by_epoch=False, interval=75, max_keep_ckpts=2, type='CheckpointHook'),
    logger=dict(interval=25, log_metric_by_epoch=False, type='LoggerHook'),
    param_scheduler=dict(type='ParamSchedulerHook'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    timer=dict(type='IterTimerHook'))
default_scope = 'mmfusion'
env_cfg = dict(
    cudnn_benchmark=False,
    dist_cfg=dict(backend='nccl'),
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0))
experiment_name = 'BDLFusion_twin_s2_20261207_214314_416a8a'
launcher = 'none'
load_from = None
log_level = 'INFO'
log_processor = dict(by_epoch=False)
max_iters = 150
model = dict(
    adv_weights=dict(disc=0.25, fusion=0.5, task=0.01),
    aggregation='min_norm',
    colour='vis',
    data_preprocessor=dict(size_divisor=None, type='FusionDataPreprocessor'),
    discriminator=dict(type='PixelDiscriminator'),
    eta='discriminator',
    fusion_loss=dict(type='SaliencyTargetLoss'),
    fusion_net=dict(
        clamp_output=True,
        init_cfg=dict(
            checkpoint=
            '/work/main/work_dirs/task_gain/msrs_mini_cpu320/methods/BDLFusion/seed_2/warmup/iter_41.pth',
            prefix='fusion_net.',
            type='Pretrained'),
        type='DRDBFusionNet'),
    output_norm='clip',
    task=None,
    task_driven=False,
    tie_upper_lr=True,
    type='BDLFusion')
model_wrapper_cfg = dict(
    broadcast_buffers=False,
    child_kwargs=dict(task=dict(find_unused_parameters=True)),
    find_unused_parameters=False,
    type='mmfusion.FusionSeparateDDP')
optim_wrapper = dict(
    constructor='MultiOptimWrapperConstructor',
    discriminator=dict(
        optimizer=dict(lr=0.01, momentum=0.9, type='SGD',
                       weight_decay=0.0001)),
    fusion_net=dict(
        optimizer=dict(lr=0.01, momentum=0.0, type='SGD', weight_decay=0.001)))
param_scheduler = dict(
    discriminator=[
        dict(
            begin=0,
            by_epoch=False,
            end=15,
            start_factor=0.01,
            type='LinearLR'),
        dict(
            begin=15,
            by_epoch=False,
            end=150,
            eta_min=0.0001,
            power=0.9,
            type='PolyLR'),
    ],
    fusion_net=[],
    task=[
        dict(
            begin=0,
            by_epoch=False,
            end=15,
            start_factor=0.01,
            type='LinearLR'),
        dict(
            begin=15,
            by_epoch=False,
            end=150,
            eta_min=0.0001,
            power=0.9,
            type='PolyLR'),
    ])
randomness = dict(seed=2)
resume = False
runner_type = 'mmfusion.FusionRunner'
size = (
    320,
    240,
)
test_cfg = dict(type='TestLoop')
test_dataloader = dict(
    batch_size=1,
    dataset=dict(
        data_prefix=dict(
            ir='test/ir', seg='test/Segmentation_labels', vis='test/vi'),
        data_root=
        '/work/main/work_dirs/task_gain/msrs_mini_cpu320/data/msrs_mini_320x240',
        pipeline=[
            dict(type='LoadPairedImageFromFile'),
            dict(type='mmseg.LoadAnnotations'),
            dict(type='PackFusionInputs'),
        ],
        type='MSRSDataset'),
    num_workers=0,
    persistent_workers=False,
    sampler=dict(shuffle=False, type='DefaultSampler'))
test_evaluator = [
    dict(type='FusionMetric'),
]
test_pipeline = [
    dict(type='LoadPairedImageFromFile'),
    dict(type='mmseg.LoadAnnotations'),
    dict(type='PackFusionInputs'),
]
tiny_segmentor = dict(
    backbone=dict(
        base_channels=16,
        depth=18,
        norm_cfg=dict(requires_grad=True, type='BN'),
        out_indices=(
            0,
            1,
            2,
            3,
        ),
        stem_channels=16,
        type='ResNetV1c'),
    data_preprocessor=dict(
        bgr_to_rgb=True,
        mean=[
            123.675,
            116.28,
            103.53,
        ],
        pad_val=0,
        seg_pad_val=255,
        std=[
            58.395,
            57.12,
            57.375,
        ],
        type='SegDataPreProcessor'),
    decode_head=dict(
        align_corners=False,
        c1_channels=16,
        c1_in_channels=16,
        channels=32,
        dilations=(
            1,
            6,
            12,
            18,
        ),
        dropout_ratio=0.1,
        in_channels=128,
        in_index=3,
        loss_decode=dict(loss_weight=1.0, type='CrossEntropyLoss'),
        norm_cfg=dict(requires_grad=True, type='BN'),
        num_classes=9,
        type='DepthwiseSeparableASPPHead'),
    test_cfg=dict(mode='whole'),
    train_cfg=dict(),
    type='EncoderDecoder')
train_cfg = dict(
    extra_dataloaders=dict(
        upper=dict(
            batch_size=2,
            dataset=dict(
                data_prefix=dict(
                    ir='train/ir',
                    seg='train/Segmentation_labels',
                    vis='train/vi'),
                data_root=
                '/work/main/work_dirs/task_gain/msrs_mini_cpu320/data/msrs_mini_320x240',
                pipeline=[
                    dict(type='LoadPairedImageFromFile'),
                    dict(type='mmseg.LoadAnnotations'),
                    dict(
                        keep_ratio=True,
                        ratio_range=(
                            1.0,
                            1.5,
                        ),
                        scale=(
                            320,
                            240,
                        ),
                        type='RandomResize'),
                    dict(crop_size=(
                        240,
                        320,
                    ), type='mmseg.RandomCrop'),
                    dict(prob=0.5, type='RandomFlip'),
                    dict(type='PackFusionInputs'),
                ],
                type='MSRSDataset'),
            num_workers=0,
            persistent_workers=False,
            sampler=dict(shuffle=True, type='InfiniteSampler'))),
    max_iters=150,
    phases=[
        dict(iters=4, name='lower'),
        dict(extra_batches=dict(upper=1), iters=1, name='upper'),
    ],
    type='PhasedTrainLoop',
    val_interval=150)
train_dataloader = dict(
    batch_size=2,
    dataset=dict(
        data_prefix=dict(
            ir='train/ir', seg='train/Segmentation_labels', vis='train/vi'),
        data_root=
        '/work/main/work_dirs/task_gain/msrs_mini_cpu320/data/msrs_mini_320x240',
        pipeline=[
            dict(type='LoadPairedImageFromFile'),
            dict(type='mmseg.LoadAnnotations'),
            dict(
                keep_ratio=True,
                ratio_range=(
                    1.0,
                    1.5,
                ),
                scale=(
                    320,
                    240,
                ),
                type='RandomResize'),
            dict(crop_size=(
                240,
                320,
            ), type='mmseg.RandomCrop'),
            dict(prob=0.5, type='RandomFlip'),
            dict(type='PackFusionInputs'),
        ],
        type='MSRSDataset'),
    num_workers=0,
    persistent_workers=False,
    sampler=dict(shuffle=True, type='InfiniteSampler'))
train_pipeline = [
    dict(type='LoadPairedImageFromFile'),
    dict(type='mmseg.LoadAnnotations'),
    dict(
        keep_ratio=True,
        ratio_range=(
            1.0,
            1.5,
        ),
        scale=(
            320,
            240,
        ),
        type='RandomResize'),
    dict(crop_size=(
        240,
        320,
    ), type='mmseg.RandomCrop'),
    dict(prob=0.5, type='RandomFlip'),
    dict(type='PackFusionInputs'),
]
upper_dataloader = dict(
    batch_size=2,
    dataset=dict(
        data_prefix=dict(
            ir='train/ir', seg='train/Segmentation_labels', vis='train/vi'),
        data_root=
        '/work/main/work_dirs/task_gain/msrs_mini_cpu320/data/msrs_mini_320x240',
        pipeline=[
            dict(type='LoadPairedImageFromFile'),
            dict(type='mmseg.LoadAnnotations'),
            dict(
                keep_ratio=True,
                ratio_range=(
                    1.0,
                    1.5,
                ),
                scale=(
                    320,
                    240,
                ),
                type='RandomResize'),
            dict(crop_size=(
                240,
                320,
            ), type='mmseg.RandomCrop'),
            dict(prob=0.5, type='RandomFlip'),
            dict(type='PackFusionInputs'),
        ],
        type='MSRSDataset'),
    num_workers=0,
    persistent_workers=False,
    sampler=dict(shuffle=True, type='InfiniteSampler'))
upper_interval = 5
val_cfg = dict(type='ValLoop')
val_dataloader = dict(
    batch_size=1,
    dataset=dict(
        data_prefix=dict(
            ir='test/ir', seg='test/Segmentation_labels', vis='test/vi'),
        data_root=
        '/work/main/work_dirs/task_gain/msrs_mini_cpu320/data/msrs_mini_320x240',
        pipeline=[
            dict(type='LoadPairedImageFromFile'),
            dict(type='mmseg.LoadAnnotations'),
            dict(type='PackFusionInputs'),
        ],
        type='MSRSDataset'),
    num_workers=0,
    persistent_workers=False,
    sampler=dict(shuffle=False, type='DefaultSampler'))
val_evaluator = [
    dict(type='FusionMetric'),
]
vis_backends = [
    dict(type='LocalVisBackend'),
]
visualizer = dict(
    name='BDLFusion_twin_s2_20261207_214314_416a8a',
    type='Visualizer',
    vis_backends=[
        dict(type='LocalVisBackend'),
    ])
work_dir = '/work/main/work_dirs/task_gain/msrs_mini_cpu320/methods/BDLFusion_twin/seed_2/train'
