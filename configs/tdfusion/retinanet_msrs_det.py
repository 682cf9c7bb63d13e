# TDFusion with an mmdet detector as the task: RetinaNet-R50 on the MSRS
# boxes (person, bicycle, car), fed the fused Y with the VIS chroma.
# The pipeline only loads and flips: the model crops the fusion-loss view and
# sizes the task view itself (TDFusion's default: 240x320; the boxes follow).
# RetinaNet's preprocessor pads to a multiple of 32: with the default
# task_padding='resize' the view is resized to 256x320 instead, so nothing is
# padded (boxes scaled exactly).
_base_ = [
    '../_base_/models/tdfusion_refusion.py', '../_base_/datasets/msrs_det.py',
    '../_base_/schedules/tdfusion_40e.py', '../_base_/default_runtime.py',
    '../_base_/model_wrappers/fusion_separate_ddp.py'
]
model = dict(
    task=dict(
        _delete_=True,
        type='TaskAdapter',
        cfg_path='mmdet::retinanet/retinanet_r50_fpn_1x_coco.py',
        model=dict(bbox_head=dict(num_classes=3)),
        input_format='rgb'))
train_pipeline = [
    dict(type='LoadPairedImageFromFile'),
    dict(type='mmdet.LoadAnnotations', with_bbox=True, with_label=True),
    dict(type='mmdet.RandomFlip', prob=0.5),
    dict(type='PackFusionInputs'),
]
train_dataloader = dict(
    batch_size=1, num_workers=2, dataset=dict(pipeline=train_pipeline))
val_evaluator = [
    dict(type='FusionMetric'),
    dict(
        type='mmdet.VOCMetric', metric='mAP', iou_thrs=[0.5],
        eval_mode='area'),
    dict(type='mmdet.CocoMetric', metric='bbox'),  # mAP@.5:.95
]
test_evaluator = val_evaluator
