# The task-gain experiment of a detection-driven method at CPU scale
# (issue 25): TarDAL against its task-free twin, the downstream task being
# detection (person, bicycle, car boxes of MSRS):
#   python tools/analysis_tools/task_gain.py \
#       configs/task_gain/task_gain_msrs_mini_det_cpu.py
# Data: msrs_mini (161 train / 39 test pairs, ../shared/testdata) at
# 160 x 120. TarDAL (the paper's cooperative training, task_to_fusion=True;
# as released the detector never reaches the generator and the method is
# its twin step for step) and its twin (no detector) under 3 fusion seeds,
# paired by seed; inputs of the protocol: VIS, IR, the max rule, the
# released tardal.pt (converted) and every trained net, each with a fresh
# tiny RetinaNet (detector_r18_160x120.py) for 3 seeds. The report gives the
# paired difference of VOC mAP@0.5 (and COCO mAP, per class) with its 95 %
# CI and a verdict. `--quick` runs the same pipeline on the bundled demo
# pairs in minutes (the numbers mean nothing). Not yet run at full length:
# its stage times are to be measured as for the segmentation preset
# (docs/benchmarks.md).
_base_ = ['./task_gain_msrs_mini_cpu.py']
work_dir = 'work_dirs/task_gain/msrs_mini_det_cpu'
task_config = 'configs/task_gain/detector_r18_160x120.py'
released = [
    dict(
        name='TarDAL (released)',
        config='configs/tardal/tardal_official_msrs.py',
        checkpoint='../shared/reference/tardal/weights/tardal.pt',
        converter='tardal'),
]
methods = [
    dict(
        name='TarDAL',
        config='configs/task_gain/tardal_r18_160x120.py',
        twin=dict(
            name='TarDAL twin',
            config='configs/task_gain/tardal_r18_160x120_twin.py'),
        quick_cfg_options={
            'train_cfg.phases':
            [dict(name='warmup', iters=1),
             dict(name='joint', iters=2)],
            'train_cfg.max_iters':
            3,
            'train_cfg.val_interval':
            3,
            'default_hooks.checkpoint.interval':
            3,
            'train_dataloader.batch_size':
            2,
        }),
]
quick = dict(
    _base_.quick,
    work_dir='work_dirs/task_gain/quick_det',
    task_cfg_options=dict(
        _base_.quick.task_cfg_options,
        param_scheduler=[
            dict(
                type='LinearLR',
                start_factor=0.1,
                by_epoch=False,
                begin=0,
                end=4)
        ]))
