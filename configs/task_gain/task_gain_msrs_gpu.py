# The task-gain experiment at published scale (GPUs; full MSRS at data/MSRS,
# 1083 train / 361 test pairs with the official pixel masks):
#   python tools/analysis_tools/task_gain.py \
#       configs/task_gain/task_gain_msrs_gpu.py
# The same code path as task_gain_msrs_mini_cpu.py with the published
# configs: TDFusion (ReFusion + loss generator + in-loop SegFormer-B0 on Y,
# 40 epochs), BDLFusion (DRDB leader, DeepLabV3+ R50 follower, after a
# warm-up of its fusion net) and SeAFusion joint adaptive training (BiSeNetV1
# R18, 4 rounds); the downstream model of the protocol is SegFormer-B0 (20k
# iterations of batch 8, ImageNet MiT-B0 — downloaded at the first run; set
# `checkpoint = None` in configs/task_eval/segformer_mit-b0_msrs.py to train
# from scratch offline). The task models of the BDLFusion and SeAFusion
# configs start from ImageNet backbones as published (downloaded).
# Expect days on one GPU (SeAFusion alone: 4 x 20k segmenter iterations).
_base_ = ['./task_gain_msrs_mini_cpu.py']
work_dir = 'work_dirs/task_gain/msrs_gpu'
fusion_seeds = [0, 1, 2]  # every method (and twin) trained under each
data = dict(_delete_=True, source='data/MSRS', size=None)
task_config = 'configs/task_eval/segformer_mit-b0_msrs.py'
methods = [
    dict(
        name='TDFusion',
        config='configs/tdfusion/segformer_msrs.py',
        twin=dict(
            name='TDFusion twin',
            config='configs/task_gain/tdfusion_segformer_msrs_twin.py')),
    dict(
        name='BDLFusion',
        config='configs/bdlfusion/bdlfusion_drdb_deeplabv3plus_msrs.py',
        warmup='configs/task_gain/bdlfusion_warmup_msrs.py',
        twin=dict(
            name='BDLFusion twin',
            config='configs/task_gain/'
            'bdlfusion_drdb_deeplabv3plus_msrs_twin.py')),
    dict(
        name='SeAFusion',
        config='configs/seafusion/seafusion_joint_msrs.py',
        twin=dict(
            name='SeAFusion twin',
            config='configs/task_gain/seafusion_joint_msrs_twin.py')),
]
released = [
    dict(
        name='SeAFusion (released)',
        config='configs/seafusion/seafusion_msrs.py',
        # the released model/Fusion/fusionmodel_final.pth of
        # Linfeng-Tang/SeAFusion, saved here
        checkpoint='checkpoints/seafusion_official.pth',
        converter='seafusion'),
]
fusion_batch_size = 1
