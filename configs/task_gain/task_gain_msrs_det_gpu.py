# The detection task-gain experiment at published scale (GPUs; full MSRS at
# data/MSRS with Detection_labels, 1083 train / 361 test pairs):
#   python tools/analysis_tools/task_gain.py \
#       configs/task_gain/task_gain_msrs_det_gpu.py
# TarDAL (configs/tardal/tardal_retinanet_msrs.py: the released recipe with
# RetinaNet-R50 as the in-loop detector, in the paper's cooperative mode
# task_to_fusion=True, since as released the detector never reaches the
# generator and the method is its twin step for step) against its task-free
# twin under 3 fusion seeds; inputs of the protocol: VIS, IR, the max rule,
# the released tardal.pt and every trained net, each with a fresh
# RetinaNet-R50 (configs/task_eval/retinanet_r50_msrs_det.py, 24 epochs;
# its ImageNet backbone is downloaded at the first run) for 3 seeds; the
# verdict on VOC mAP@0.5. Expect days on one GPU.
_base_ = ['./task_gain_msrs_mini_det_cpu.py']
work_dir = 'work_dirs/task_gain/msrs_det_gpu'
fusion_seeds = [0, 1, 2]
data = dict(_delete_=True, source='data/MSRS', size=None)
task_config = 'configs/task_eval/retinanet_r50_msrs_det.py'
methods = [
    dict(
        name='TarDAL',
        config='configs/tardal/tardal_retinanet_msrs.py',
        cfg_options={'model.task_to_fusion': True},
        twin=dict(
            name='TarDAL twin',
            config='configs/task_gain/tardal_retinanet_msrs_twin.py',
            cfg_options={'model.task_to_fusion': False})),
]
released = [
    dict(
        name='TarDAL (released)',
        config='configs/tardal/tardal_official_msrs.py',
        # the released weights/tardal.pt of JinyuanLiu-CV/TarDAL, saved here
        checkpoint='checkpoints/tardal.pt',
        converter='tardal'),
]
fusion_batch_size = 1
