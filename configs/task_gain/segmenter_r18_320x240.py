# The downstream segmenter of the CPU task-gain experiment at 320 x 240
# (task_gain_msrs_mini_cpu320.py, issue 23): segmenter_r18_160x120.py (the
# 0.8 M-parameter DeepLabV3+ / ResNetV1c-18 at 1/4 width, class-weighted CE,
# from scratch) on the 320 x 240 copy of msrs_mini. Schedule: see SCHEDULE.
_base_ = ['./segmenter_r18_160x120.py']
data_root = 'work_dirs/task_gain/msrs_mini_cpu320/data/msrs_mini_320x240'
size = (320, 240)  # (w, h)
model = dict(data_preprocessor=dict(size=(size[1], size[0])))
train_pipeline = [
    dict(type='mmfusion.LoadModalityImage', modality='vis'),
    dict(type='mmseg.LoadAnnotations'),
    dict(
        type='RandomResize',
        scale=size,
        ratio_range=(1.0, 1.5),
        keep_ratio=True),
    dict(type='mmseg.RandomCrop', crop_size=(size[1], size[0])),
    dict(type='mmseg.RandomFlip', prob=0.5),
    dict(type='mmseg.PackSegInputs'),
]
train_dataloader = dict(
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
# SCHEDULE: 300 iterations of batch 8 (15 epochs of 161 pairs; 160 x 120:
# 500)
max_iters = 300
param_scheduler = [
    dict(
        type='PolyLR',
        eta_min=1e-4,
        power=0.9,
        begin=0,
        end=max_iters,
        by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters // 2))
