# The downstream detector of the detection task-gain experiment at CPU scale
# (configs/task_gain/task_gain_msrs_mini_det_cpu.py), trained from scratch on
# one input (VIS, IR or a method's fused images) of MSRS pairs downscaled to
# 160 x 120: the tiny RetinaNet of the CPU demos (ResNet-18 at 1/8 width,
# 16-channel FPN, one-conv head; _base_/models/tiny_retinanet.py; nothing is
# downloaded), SGD with a linear warm-up, 25 epochs of the 161 msrs_mini
# training pairs, tested on the 39 test pairs: VOC mAP@0.5 (person,
# bicycle, car; the verdict's metric, as the fusion papers) and COCO
# mAP@.5:.95 with the per-class values. An ordinary task-eval config:
#   python tools/task_eval.py configs/task_gain/detector_r18_160x120.py ...
_base_ = [
    '../task_eval/retinanet_r50_msrs_det.py',
    '../_base_/models/tiny_retinanet.py'
]
data_root = 'work_dirs/task_gain/msrs_mini_det_cpu/data/msrs_mini_160x120'
size = (160, 120)  # (w, h)
model = dict(_base_.tiny_detector, _delete_=True)
train_pipeline = [
    dict(type='mmfusion.LoadModalityImage', modality='vis'),
    dict(type='mmdet.LoadAnnotations', with_bbox=True),
    dict(type='mmdet.Resize', scale=size, keep_ratio=True),
    dict(type='mmdet.RandomFlip', prob=0.5),
    dict(type='mmdet.PackDetInputs'),
]
test_pipeline = [
    dict(type='mmfusion.LoadModalityImage', modality='vis'),
    dict(type='mmdet.Resize', scale=size, keep_ratio=True),
    dict(type='mmdet.LoadAnnotations', with_bbox=True),
    dict(
        type='mmdet.PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor', 'instances')),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = [
    dict(
        type='mmdet.VOCMetric', metric='mAP', iou_thrs=[0.5],
        eval_mode='area'),
    dict(type='mmdet.CocoMetric', metric='bbox', classwise=True),
]
test_evaluator = val_evaluator
max_iters = 500  # 25 epochs of 161 pairs, batch 8
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4),
    clip_grad=dict(max_norm=10.))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(
        type='CosineAnnealingLR',
        eta_min=1e-4,
        begin=0,
        end=max_iters,
        by_epoch=False)
]
train_cfg = dict(
    _delete_=True,
    type='IterBasedTrainLoop',
    max_iters=max_iters,
    val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(by_epoch=False, interval=max_iters // 2, max_keep_ckpts=1),
    visualization=dict(type='DetVisualizationHook', draw=False))
env_cfg = dict(cudnn_benchmark=False)
