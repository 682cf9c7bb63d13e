# The task-gain experiment of issue 23 at CPU scale, at 320 x 240 where the
# labelled persons can be seen (median height 22 px; 11 px at 160 x 120, 29 %
# of them under 8 px: tools/analysis_tools/label_sizes.py):
#   python tools/analysis_tools/task_gain.py \
#       configs/task_gain/task_gain_msrs_mini_cpu320.py
# Every method against its task-free twin (the same net, data, warm start and
# schedule without the task-driven part), both trained under 3 fusion seeds
# (paired by seed), every trained net and every fixed input evaluated by the
# task-driven protocol under 3 seeds (a fresh segmenter per input and seed,
# segmenter_r18_320x240.py). The report gives the paired difference method -
# twin of mIoU and per-class IoU with its 95 % CI over the 3 seed pairs and a
# verdict per method.
# Budget: the whole experiment in <= 6 h on 2 CPU cores; it resumes exactly
# where it stopped (re-run the same command), a progress line per unit with
# its time, the elapsed time and an estimate of what is left. What was traded
# for the budget (never the twins or the paired seeds), after measuring every
# stage (docs/benchmarks.md: 5.0 h of fusion training + 2.4 h of segmenter
# training on 1 thread, ~5.3 h on 2): SeAFusion's fusion steps on random
# 160 x 120 crops and its segmenter steps of batch 4; schedules shorter than
# at 160 x 120 (each config's SCHEDULE comment: TDFusion 3 epochs, BDLFusion
# 150 iterations after a 1-epoch warm-up, SeAFusion 4 rounds of 2 fusion
# epochs + 75 segmenter iterations, the protocol's segmenter 300 iterations of
# batch 8); the task net stays the 0.8 M-parameter DeepLabV3+, and the data
# is the 161 / 39 pairs of msrs_mini.
_base_ = ['./task_gain_msrs_mini_cpu.py']
work_dir = 'work_dirs/task_gain/msrs_mini_cpu320'
data = dict(
    source='../shared/testdata/msrs_mini',
    size=(320, 240),  # (w, h)
    name='msrs_mini_320x240')
task_config = 'configs/task_gain/segmenter_r18_320x240.py'
seeds = [0, 1, 2]  # of the task-driven protocol's task trainings
fusion_seeds = [0, 1, 2]  # of the fusion trainings (methods and twins)
# the methods (and their --quick settings) of the 160 x 120 preset, on the
# 320 x 240 configs
_methods = {m['name']: m for m in _base_.methods}
methods = [
    dict(
        _methods['TDFusion'],
        config='configs/task_gain/tdfusion_r18_320x240.py',
        twin=dict(
            name='TDFusion twin',
            config='configs/task_gain/tdfusion_r18_320x240_twin.py')),
    dict(
        _methods['BDLFusion'],
        config='configs/task_gain/bdlfusion_r18_320x240.py',
        warmup='configs/task_gain/bdlfusion_warmup_320x240.py',
        twin=dict(
            name='BDLFusion twin',
            config='configs/task_gain/bdlfusion_r18_320x240_twin.py')),
    dict(
        _methods['SeAFusion'],
        config='configs/task_gain/seafusion_joint_r18_320x240.py',
        twin=dict(
            name='SeAFusion twin',
            config='configs/task_gain/seafusion_joint_r18_320x240_twin.py')),
]
del _methods
quick = dict(
    work_dir='work_dirs/task_gain/quick320',
    data=dict(source='data/msrs_demo', name='msrs_demo_320x240'))
