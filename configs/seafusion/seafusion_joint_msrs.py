# SeAFusion (Tang et al., Information Fusion 2022): joint adaptive training
# of the fusion net and a segmenter (mmseg BiSeNetV1, ResNet-18) on MSRS at
# data/MSRS, rounds r = 0..3 with beta_r = r, as in the released train.py.
#   python tools/train.py configs/seafusion/seafusion_joint_msrs.py
#   bash tools/dist_train.sh configs/seafusion/seafusion_joint_msrs.py 8
# (with 8 GPUs, batch 16 is 8 x 2: set train_dataloader.batch_size and
# task_dataloader's to 2). See docs/seafusion.md.
_base_ = [
    '../_base_/models/seafusion_joint.py', '../_base_/datasets/msrs.py',
    '../_base_/schedules/seafusion_joint_4r.py',
    '../_base_/default_runtime.py',
    '../_base_/model_wrappers/fusion_separate_ddp.py'
]

# fusion phase: full 480 x 640 training pairs, no augmentation, batch 16
# (the train_dataloader of msrs.py). Task phase: the segmenter's own
# augmentation, on the IR/VIS pair before fusion: scales {.75 ... 2} of
# 640 x 480, 480 x 640 crops, horizontal flips; colour jitter is
# model.task_colour_jitter (on the fused RGB).
task_pipeline = [
    dict(type='LoadPairedImageFromFile'),
    dict(type='mmseg.LoadAnnotations'),
    dict(
        type='RandomChoiceResize',
        scales=[(int(640 * s), int(480 * s))
                for s in (0.75, 1.0, 1.25, 1.5, 1.75, 2.0)],
        keep_ratio=True),
    dict(type='mmseg.RandomCrop', crop_size=(480, 640)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackFusionInputs'),
]
task_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='MSRSDataset',
        data_root='data/MSRS',
        data_prefix=dict(
            ir='train/ir', vis='train/vi', seg='train/Segmentation_labels'),
        pipeline=task_pipeline))
train_cfg = dict(extra_dataloaders=dict(task=task_dataloader))

val_evaluator = [
    dict(type='FusionMetric'),
    # mIoU over all 9 MSRS classes incl. 'unlabelled', as papers report it;
    # exclude_from_mean=('unlabelled',) gives the 8-class mean
    dict(type='SegIoUMetric', iou_metrics=['mIoU'], exclude_from_mean=()),
]
test_evaluator = val_evaluator
