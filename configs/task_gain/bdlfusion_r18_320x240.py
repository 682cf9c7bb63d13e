# BDLFusion in the CPU task-gain experiment at 320 x 240
# (task_gain_msrs_mini_cpu320.py, issue 23): bdlfusion_r18_160x120.py at twice
# the resolution (random rescale x1-1.5 and 240 x 320 crops), starting from
# bdlfusion_warmup_320x240.py. Schedule: see SCHEDULE below and the preset's
# header.
_base_ = ['./bdlfusion_r18_160x120.py']

data_root = 'work_dirs/task_gain/msrs_mini_cpu320/data/msrs_mini_320x240'
size = (320, 240)
model = dict(task=dict(model=dict(data_preprocessor=dict(size=(240, 320)))))
train_pipeline = [
    dict(type='LoadPairedImageFromFile'),
    dict(type='mmseg.LoadAnnotations'),
    dict(
        type='RandomResize',
        scale=size,
        ratio_range=(1.0, 1.5),
        keep_ratio=True),
    dict(type='mmseg.RandomCrop', crop_size=(size[1], size[0])),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackFusionInputs'),
]
train_dataloader = dict(
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
upper_dataloader = dict(
    dataset=dict(data_root=data_root, pipeline=train_pipeline))

# SCHEDULE: 150 iterations of batch 2 (the 160 x 120 experiment: 300), the
# leader's step every 5th (30 leader steps), 15-iteration warm-up
upper_interval = 5
max_iters = 150
_sched = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=False, begin=0, end=15),
    dict(
        type='PolyLR',
        power=0.9,
        eta_min=1e-4,
        by_epoch=False,
        begin=15,
        end=max_iters),
]
param_scheduler = dict(fusion_net=[], discriminator=_sched, task=_sched)
train_cfg = dict(
    phases=[
        dict(name='lower', iters=upper_interval - 1),
        dict(name='upper', iters=1, extra_batches=dict(upper=1)),
    ],
    extra_dataloaders=dict(upper=upper_dataloader),
    max_iters=max_iters,
    val_interval=max_iters)
default_hooks = dict(
    checkpoint=dict(interval=max_iters // 2, max_keep_ckpts=2))
