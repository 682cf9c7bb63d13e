# Task-driven evaluation on MSRS segmentation with SegFormer-B0 (the task
# network of TDFusion and of the IVIF_ZOO segmentation benchmark):
#   python tools/task_eval.py configs/task_eval/segformer_mit-b0_msrs.py \
#       --model TDFusion configs/tdfusion/segformer_msrs.py TDF.pth \
#       --fused SeAFusion results/SeAFusion
# trains this model on VIS, IR and each method's fused images and reports
# mIoU (9 classes incl. unlabelled) and per-class IoU.
# Schedule: 20k iterations of batch 8 (~150 epochs of the 1083 training
# pairs), AdamW as mmseg's SegFormer recipe, ImageNet-pretrained MiT-B0
# (downloaded; set `checkpoint = None` below, or pass
# `--cfg-options model.backbone.init_cfg=None`, to start from scratch
# offline).
_base_ = [
    'mmseg::_base_/models/segformer_mit-b0.py',
    '../_base_/datasets/msrs_task_seg.py', 'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_20k.py'
]
crop_size = (480, 640)
checkpoint = 'https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segformer/mit_b0_20220624-7e0fe6dd.pth'  # noqa
model = dict(
    data_preprocessor=dict(size=crop_size),
    # no Pretrained init without a checkpoint (mmengine's PretrainedInit
    # fails on checkpoint=None)
    backbone=dict(
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint
                      ) if checkpoint else None),
    decode_head=dict(num_classes=9))
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=0.00006, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(
        custom_keys={
            'pos_block': dict(decay_mult=0.),
            'norm': dict(decay_mult=0.),
            'head': dict(lr_mult=10.)
        }))
param_scheduler = [
    dict(
        type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(
        type='PolyLR',
        eta_min=0.0,
        power=1.0,
        begin=1500,
        end=20000,
        by_epoch=False)
]
