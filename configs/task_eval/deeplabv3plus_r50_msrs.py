# Task-driven evaluation on MSRS segmentation with DeepLabV3+ (ResNet-50-D8,
# ImageNet-pretrained), mmseg's 20k-iteration SGD schedule, batch 8.
#   python tools/task_eval.py configs/task_eval/deeplabv3plus_r50_msrs.py \
#       --model SeAFusion configs/seafusion/seafusion_msrs.py SeA.pth
_base_ = [
    'mmseg::_base_/models/deeplabv3plus_r50-d8.py',
    '../_base_/datasets/msrs_task_seg.py', 'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_20k.py'
]
crop_size = (480, 640)
model = dict(
    data_preprocessor=dict(size=crop_size),
    decode_head=dict(num_classes=9),
    auxiliary_head=dict(num_classes=9))
