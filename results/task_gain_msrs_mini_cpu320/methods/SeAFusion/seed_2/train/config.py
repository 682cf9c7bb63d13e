custom_hooks = [
    dict(type='FusedImageSaveHook'),
    dict(type='RNGStateHook'),
]
data_root = 'work_dirs/task_gain/msrs_mini_cpu320/data/msrs_mini_320x240'
dataset_type = 'MSRSDataset'
default_hooks = dict(
    checkpoint=dict(
        by_epoch=False, interval=234, max_keep_ckpts=2, type='CheckpointHook'),
    logger=dict(interval=25, log_metric_by_epoch=False, type='LoggerHook'),
    param_scheduler=dict(
        phases=dict(fusion_net='fusion', task='task'),
        restart=[
            'fusion_net',
        ],
        type='PhasedParamSchedulerHook'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    timer=dict(type='IterTimerHook'))
default_scope = 'mmfusion'
env_cfg = dict(
    cudnn_benchmark=False,
    dist_cfg=dict(backend='nccl'),
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0))
experiment_name = 'SeAFusion_s2_20261207_211715_85edfd'
fusion_epoch_iters = 21
fusion_epochs = 10
fusion_iters = 42
fusion_pipeline = [
    dict(type='LoadPairedImageFromFile'),
    dict(type='mmseg.LoadAnnotations'),
    dict(crop_size=(
        120,
        160,
    ), type='mmseg.RandomCrop'),
    dict(type='PackFusionInputs'),
]
launcher = 'none'
load_from = None
log_level = 'INFO'
log_processor = dict(by_epoch=False)
model = dict(
    colour='vis',
    data_preprocessor=dict(type='FusionDataPreprocessor'),
    fusion_loss=dict(
        int_weight=1.0, texture_weight=10.0, type='MaxIntensityTextureLoss'),
    fusion_net=dict(type='SeAFusionNet'),
    output_norm='clip',
    predict_task=True,
    reinit_fusion_net=True,
    reset_fusion_optimizer=True,
    reset_task_optimizer=True,
    semantic_loss_scale=None,
    semantic_weights=[
        0.0,
        1.0,
        2.0,
        3.0,
    ],
    task=dict(
        input_format='rgb',
        model=dict(
            _scope_='mmseg',
            backbone=dict(
                base_channels=16,
                depth=18,
                init_cfg=None,
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
                size_divisor=32,
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
                loss_decode=dict(
                    loss_weight=1.0, type='mmfusion.OHEMCrossEntropyLoss'),
                norm_cfg=dict(requires_grad=True, type='BN'),
                num_classes=9,
                sampler=dict(
                    min_kept=4800, thresh=0.7, type='OHEMPixelSampler'),
                type='DepthwiseSeparableASPPHead'),
            test_cfg=dict(mode='whole'),
            train_cfg=dict(),
            type='EncoderDecoder'),
        type='TaskAdapter'),
    task_colour_jitter=dict(brightness=0.5, contrast=0.5, saturation=0.5),
    type='SeAFusion')
model_wrapper_cfg = dict(
    broadcast_buffers=False,
    child_kwargs=dict(task=dict(find_unused_parameters=True)),
    find_unused_parameters=False,
    type='mmfusion.FusionSeparateDDP')
norm_cfg = dict(requires_grad=True, type='BN')
num_classes = 9
ohem = dict(min_kept=1200, thresh=0.7, type='OHEMPixelSampler')
optim_wrapper = dict(
    constructor='MultiOptimWrapperConstructor',
    fusion_net=dict(optimizer=dict(lr=0.0013333333333333333, type='Adam')),
    task=dict(
        constructor='DecayRulesOptimWrapperConstructor',
        optimizer=dict(
            lr=0.0001, momentum=0.9, type='SGD', weight_decay=0.0005),
        paramwise_cfg=dict(custom_keys=dict(decode_head=dict(lr_mult=10.0)))))
param_scheduler = dict(
    fusion_net=[
        dict(
            begin=0,
            by_epoch=False,
            end=42,
            gamma=0.75,
            step_size=21,
            type='StepLR'),
    ],
    task=[
        dict(
            begin=0,
            by_epoch=False,
            end=26,
            gamma=1.202264434617413,
            type='ExponentialLR'),
        dict(
            begin=25,
            by_epoch=False,
            end=301,
            eta_min=0.0,
            power=0.9,
            type='PolyLR'),
    ])
randomness = dict(seed=2)
resume = False
round_iters = 117
rounds = 4
runner_type = 'mmfusion.FusionRunner'
segmenter = dict(
    _scope_='mmseg',
    auxiliary_head=dict(
        align_corners=False,
        channels=64,
        concat_input=False,
        in_channels=128,
        in_index=1,
        loss_decode=dict(
            loss_weight=0.75, type='mmfusion.OHEMCrossEntropyLoss'),
        norm_cfg=dict(requires_grad=True, type='SyncBN'),
        num_classes=9,
        num_convs=1,
        sampler=dict(min_kept=19200, thresh=0.7, type='OHEMPixelSampler'),
        type='FCNHead'),
    backbone=dict(
        align_corners=False,
        backbone_cfg=dict(
            contract_dilation=True,
            depth=18,
            dilations=(
                1,
                1,
                1,
                1,
            ),
            in_channels=3,
            init_cfg=dict(
                checkpoint='torchvision://resnet18', type='Pretrained'),
            norm_cfg=dict(requires_grad=True, type='SyncBN'),
            norm_eval=False,
            num_stages=4,
            out_indices=(
                0,
                1,
                2,
                3,
            ),
            strides=(
                1,
                2,
                2,
                2,
            ),
            style='pytorch',
            type='ResNet'),
        context_channels=(
            128,
            256,
            512,
        ),
        in_channels=3,
        init_cfg=None,
        norm_cfg=dict(requires_grad=True, type='SyncBN'),
        out_channels=256,
        out_indices=(
            0,
            1,
        ),
        spatial_channels=(
            64,
            64,
            64,
            128,
        ),
        type='BiSeNetV1'),
    data_preprocessor=dict(
        bgr_to_rgb=True,
        mean=[
            0.0,
            0.0,
            0.0,
        ],
        pad_val=0,
        seg_pad_val=255,
        size_divisor=32,
        std=[
            255.0,
            255.0,
            255.0,
        ],
        type='SegDataPreProcessor'),
    decode_head=dict(
        align_corners=False,
        channels=256,
        concat_input=False,
        dropout_ratio=0.1,
        in_channels=256,
        in_index=0,
        loss_decode=dict(
            loss_weight=1.0, type='mmfusion.OHEMCrossEntropyLoss'),
        norm_cfg=dict(requires_grad=True, type='SyncBN'),
        num_classes=9,
        num_convs=1,
        sampler=dict(min_kept=19200, thresh=0.7, type='OHEMPixelSampler'),
        type='FCNHead'),
    test_cfg=dict(mode='whole'),
    train_cfg=dict(),
    type='EncoderDecoder')
size = (
    320,
    240,
)
task_dataloader = dict(
    batch_size=16,
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
                scales=[
                    (
                        480,
                        360,
                    ),
                    (
                        640,
                        480,
                    ),
                    (
                        800,
                        600,
                    ),
                    (
                        960,
                        720,
                    ),
                    (
                        1120,
                        840,
                    ),
                    (
                        1280,
                        960,
                    ),
                ],
                type='RandomChoiceResize'),
            dict(crop_size=(
                480,
                640,
            ), type='mmseg.RandomCrop'),
            dict(prob=0.5, type='RandomFlip'),
            dict(type='PackFusionInputs'),
        ],
        type='MSRSDataset'),
    num_workers=4,
    persistent_workers=True,
    sampler=dict(shuffle=True, type='InfiniteSampler'))
task_iters = 75
task_lr = 0.01
task_pipeline = [
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
    dict(exclude_from_mean=(), iou_metrics=[
        'mIoU',
    ], type='SegIoUMetric'),
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
        task=dict(
            batch_size=4,
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
    max_iters=468,
    phases=[
        dict(iters=42, name='fusion'),
        dict(
            batches_per_iter=0,
            extra_batches=dict(task=1),
            iters=75,
            name='task'),
    ],
    type='PhasedTrainLoop',
    val_interval=468)
train_dataloader = dict(
    batch_size=8,
    dataset=dict(
        data_prefix=dict(
            ir='train/ir', seg='train/Segmentation_labels', vis='train/vi'),
        data_root=
        '/work/main/work_dirs/task_gain/msrs_mini_cpu320/data/msrs_mini_320x240',
        pipeline=[
            dict(type='LoadPairedImageFromFile'),
            dict(type='mmseg.LoadAnnotations'),
            dict(crop_size=(
                120,
                160,
            ), type='mmseg.RandomCrop'),
            dict(type='PackFusionInputs'),
        ],
        type='MSRSDataset'),
    num_workers=0,
    persistent_workers=False,
    sampler=dict(shuffle=True, type='InfiniteSampler'))
train_pipeline = [
    dict(type='LoadPairedImageFromFile'),
    dict(type='mmseg.LoadAnnotations'),
    dict(type='PackFusionInputs'),
]
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
    dict(exclude_from_mean=(), iou_metrics=[
        'mIoU',
    ], type='SegIoUMetric'),
]
vis_backends = [
    dict(type='LocalVisBackend'),
]
visualizer = dict(
    name='SeAFusion_s2_20261207_211715_85edfd',
    type='Visualizer',
    vis_backends=[
        dict(type='LocalVisBackend'),
    ])
warmup_iters = 25
warmup_start_lr = 1e-05
work_dir = '/work/main/work_dirs/task_gain/msrs_mini_cpu320/methods/SeAFusion/seed_2/train'
