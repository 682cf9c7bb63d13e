# Task-driven evaluation on MSRS detection (person, bicycle, car) with
# RetinaNet-R50-FPN (ImageNet-pretrained backbone), 24 epochs, VOC mAP@0.5
# and COCO mAP@.5:.95.
#   python tools/task_eval.py configs/task_eval/retinanet_r50_msrs_det.py \
#       --model TDFusion configs/tdfusion/retinanet_msrs_det.py TDF.pth
_base_ = [
    'mmdet::_base_/models/retinanet_r50_fpn.py',
    '../_base_/datasets/msrs_task_det.py', 'mmdet::_base_/default_runtime.py'
]
model = dict(bbox_head=dict(num_classes=3))
max_epochs = 24
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=4)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        by_epoch=True,
        milestones=[16, 22],
        gamma=0.1)
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0001))
auto_scale_lr = dict(enable=False, base_batch_size=16)
