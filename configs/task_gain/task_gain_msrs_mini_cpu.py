# The task-gain experiment at CPU scale (< 2 h on 2 CPU cores):
#   python tools/analysis_tools/task_gain.py \
#       configs/task_gain/task_gain_msrs_mini_cpu.py
# Data: msrs_mini (161 train / 39 test real MSRS pairs with box-painted masks,
# ../shared/testdata) downscaled to 160 x 120. Fusion methods trained here with
# mmfusion's strategies on the train split, their in-loop task being the
# experiment's segmenter (from scratch, nothing downloaded): TDFusion,
# BDLFusion (after a warm-up of its fusion net, as the released code starts
# from a trained fusion model) and SeAFusion joint adaptive training. Inputs
# of the task-driven protocol: VIS, IR, the pixel-max rule, the released
# SeAFusion weights (converted) and the three trained methods; a fresh
# segmenter (segmenter_r18_160x120.py) is trained on each input's train
# images and tested on its test images, for 3 seeds.
# `--quick` runs the same pipeline on the 12 bundled demo pairs in minutes.
work_dir = 'work_dirs/task_gain/msrs_mini_cpu'
data = dict(
    source='../shared/testdata/msrs_mini',
    size=(160, 120),  # (w, h); None: use the dataset as it is
    name='msrs_mini_160x120')
task_config = 'configs/task_gain/segmenter_r18_160x120.py'
seeds = [0, 1, 2]
baselines = ['vis', 'ir']
rules = [dict(name='Max rule', rule='max')]
released = [
    dict(
        name='SeAFusion (released)',
        config='configs/seafusion/seafusion_msrs.py',
        checkpoint='../shared/reference/seafusion/seafusion_official.pth',
        converter='seafusion',
        cfg_options={'model.fusion_net.compile_inference': False}),
]
methods = [
    dict(
        name='TDFusion',
        config='configs/task_gain/tdfusion_r18_160x120.py',
        quick_cfg_options={
            'train_cfg.phases': [
                dict(name='meta', iters=2, batches_per_iter=2),
                dict(name='fusion', iters='epoch')
            ],
            'train_cfg.max_iters':
            20,
            'train_cfg.val_interval':
            20,
            'default_hooks.checkpoint.interval':
            10,
        }),
    dict(
        name='BDLFusion',
        config='configs/task_gain/bdlfusion_r18_160x120.py',
        warmup='configs/task_gain/bdlfusion_warmup_160x120.py',
        quick_warmup_cfg_options={
            'train_cfg.max_iters': 4,
            'train_cfg.val_interval': 4,
            'default_hooks.checkpoint.interval': 4,
        },
        quick_cfg_options={
            'train_cfg.max_iters': 10,
            'train_cfg.val_interval': 10,
            'default_hooks.checkpoint.interval': 10,
        }),
    dict(
        name='SeAFusion',
        config='configs/task_gain/seafusion_joint_r18_160x120.py',
        quick_cfg_options={
            'train_cfg.phases': [
                dict(name='fusion', iters=2),
                dict(
                    name='task',
                    iters=2,
                    batches_per_iter=0,
                    extra_batches=dict(task=1))
            ],
            'train_cfg.max_iters':
            16,
            'train_cfg.val_interval':
            16,
            'default_hooks.checkpoint.interval':
            8,
        }),
]
grid = dict(num_pairs=3, scale=2)
quick = dict(
    work_dir='work_dirs/task_gain/quick',
    data=dict(source='data/msrs_demo', name='msrs_demo_160x120'),
    seeds=[0, 1],
    task_cfg_options={
        'train_cfg.max_iters':
        6,
        'train_cfg.val_interval':
        6,
        'default_hooks.checkpoint.interval':
        3,
        'param_scheduler': [
            dict(
                type='PolyLR',
                eta_min=1e-4,
                power=0.9,
                begin=0,
                end=6,
                by_epoch=False)
        ],
        'train_dataloader.batch_size':
        2,
    },
    grid=dict(num_pairs=2, scale=1))
