_step = dict(
    by_epoch=False,
    gamma=0.1,
    milestones=[
        362,
    ],
    step_size=12830,
    type='MultiStepLR')
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
        by_epoch=False, interval=181, max_keep_ckpts=2, type='CheckpointHook'),
    logger=dict(interval=25, log_metric_by_epoch=False, type='LoggerHook'),
    param_scheduler=dict(type='ParamSchedulerHook'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    timer=dict(type='IterTimerHook'))
default_scope = 'mmfusion'
env_cfg = dict(
    cudnn_benchmark=False,
    dist_cfg=dict(backend='nccl'),
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0))
experiment_name = 'TDFusion_twin_s2_20261207_203310_cc5a51'
iters_per_epoch = 181
launcher = 'none'
load_from = None
log_level = 'INFO'
log_processor = dict(by_epoch=False)
max_epochs = 3
meta_steps = 20
model = dict(
    colour='saturation',
    data_preprocessor=dict(type='FusionDataPreprocessor'),
    fusion_crop_size=(
        128,
        128,
    ),
    fusion_loss=dict(
        grad_weight=1.0, int_weight=1.0, type='WeightedIntensityGradientLoss'),
    fusion_net=dict(type='ReFusionNet'),
    inner_lr='fusion',
    loss_generator=dict(type='ConstantLossGenerator', weights=(
        0.5,
        0.5,
    )),
    outer_lr='fusion',
    output_norm='minmax',
    restore_task=True,
    second_order=True,
    swap_modalities=True,
    task=None,
    task_driven=False,
    task_input_size=(
        240,
        320,
    ),
    task_labels='full',
    task_padding='resize',
    type='TDFusion')
model_wrapper_cfg = dict(
    broadcast_buffers=False,
    child_kwargs=dict(task=dict(find_unused_parameters=True)),
    find_unused_parameters=False,
    type='mmfusion.FusionSeparateDDP')
num_classes = 9
optim_wrapper = dict(
    constructor='MultiOptimWrapperConstructor',
    fusion_net=dict(optimizer=dict(lr=0.001, type='Adam', weight_decay=0)))
param_scheduler = dict(
    fusion_net=[
        dict(
            by_epoch=False, gamma=0.1, milestones=[
                362,
            ], type='MultiStepLR'),
    ],
    loss_generator=[],
    task=[
        dict(
            by_epoch=False, gamma=0.1, milestones=[
                362,
            ], type='MultiStepLR'),
    ])
randomness = dict(seed=2)
resume = False
runner_type = 'mmfusion.FusionRunner'
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
    max_iters=543,
    phases=[
        dict(batches_per_iter=2, iters=20, name='meta'),
        dict(iters='epoch', name='fusion'),
    ],
    type='PhasedTrainLoop',
    val_interval=543)
train_dataloader = dict(
    batch_size=1,
    dataset=dict(
        data_prefix=dict(
            ir='train/ir', seg='train/Segmentation_labels', vis='train/vi'),
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
    sampler=dict(shuffle=True, type='InfiniteSampler'))
train_pairs = 161
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
]
vis_backends = [
    dict(type='LocalVisBackend'),
]
visualizer = dict(
    name='TDFusion_twin_s2_20261207_203310_cc5a51',
    type='Visualizer',
    vis_backends=[
        dict(type='LocalVisBackend'),
    ])
work_dir = '/work/main/work_dirs/task_gain/msrs_mini_cpu320/methods/TDFusion_twin/seed_2/train'
