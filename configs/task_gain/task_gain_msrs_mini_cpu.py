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
# Every method has a task-free twin (issue 23: the same net, data, warm start
# and schedule without the task-driven part), trained next to it under each
# of the `fusion_seeds` (method and twin paired by seed); the report gives
# the paired difference method - twin with its 95 % CI and a verdict.
# `--quick` runs the same pipeline (methods and twins, 2 fusion seeds, 1
# protocol seed, a few iterations each) on the 12 bundled demo pairs.
work_dir = 'work_dirs/task_gain/msrs_mini_cpu'
data = dict(
    source='../shared/testdata/msrs_mini',
    size=(160, 120),  # (w, h); None: use the dataset as it is
    name='msrs_mini_160x120')
task_config = 'configs/task_gain/segmenter_r18_160x120.py'
seeds = [0, 1, 2]  # of the task-driven protocol's task trainings
fusion_seeds = [0, 1, 2]  # of the fusion trainings (methods and twins)
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
        twin=dict(
            name='TDFusion twin',
            config='configs/task_gain/tdfusion_r18_160x120_twin.py'),
        quick_cfg_options={
            'train_cfg.phases': [
                dict(name='meta', iters=2, batches_per_iter=2),
                dict(name='fusion', iters='epoch')
            ],
            'train_cfg.max_iters':
            10,
            'train_cfg.val_interval':
            10,
            'default_hooks.checkpoint.interval':
            5,
        }),
    dict(
        name='BDLFusion',
        config='configs/task_gain/bdlfusion_r18_160x120.py',
        warmup='configs/task_gain/bdlfusion_warmup_160x120.py',
        twin=dict(
            name='BDLFusion twin',
            config='configs/task_gain/bdlfusion_r18_160x120_twin.py'),
        quick_warmup_cfg_options={
            'train_cfg.max_iters': 2,
            'train_cfg.val_interval': 2,
            'default_hooks.checkpoint.interval': 2,
            'train_dataloader.batch_size': 2,
        },
        quick_cfg_options={
            'train_cfg.max_iters': 5,
            'train_cfg.val_interval': 5,
            'default_hooks.checkpoint.interval': 5,
        }),
    dict(
        name='SeAFusion',
        config='configs/task_gain/seafusion_joint_r18_160x120.py',
        twin=dict(
            name='SeAFusion twin',
            config='configs/task_gain/seafusion_joint_r18_160x120_twin.py'),
        quick_cfg_options={
            'train_cfg.phases': [
                dict(name='fusion', iters=1),
                dict(
                    name='task',
                    iters=1,
                    batches_per_iter=0,
                    extra_batches=dict(task=1))
            ],
            'train_cfg.max_iters':
            8,
            'train_cfg.val_interval':
            8,
            'default_hooks.checkpoint.interval':
            8,
            # a smoke test: small batches (fusion steps on 8 whole pairs
            # took ~5 s each)
            'train_dataloader.batch_size':
            2,
            'train_cfg.extra_dataloaders.task.batch_size':
            2,
        }),
]
grid = dict(num_pairs=3, scale=2)
quick = dict(
    work_dir='work_dirs/task_gain/quick',
    data=dict(source='data/msrs_demo', name='msrs_demo_160x120'),
    seeds=[0],
    fusion_seeds=[0, 1],
    task_cfg_options={
        'train_cfg.max_iters':
        4,
        'train_cfg.val_interval':
        4,
        'default_hooks.checkpoint.interval':
        2,
        'param_scheduler': [
            dict(
                type='PolyLR',
                eta_min=1e-4,
                power=0.9,
                begin=0,
                end=4,
                by_epoch=False)
        ],
        'train_dataloader.batch_size':
        2,
    },
    grid=dict(num_pairs=2, scale=1))
