# TDFusion on MSRS with the published in-loop task: SegFormer-B0 on the
# 1-channel fused Y. python tools/train.py configs/tdfusion/segformer_msrs.py
_base_ = [
    '../_base_/models/tdfusion_refusion.py', '../_base_/datasets/msrs.py',
    '../_base_/schedules/tdfusion_40e.py', '../_base_/default_runtime.py',
    '../_base_/model_wrappers/fusion_separate_ddp.py'
]
train_dataloader = dict(batch_size=1, num_workers=2)
val_evaluator = [
    dict(type='FusionMetric'),
    # mIoU over all 9 MSRS classes incl. 'unlabelled', as papers report it;
    # exclude_from_mean=('unlabelled',) gives the 8-class mean
    dict(type='SegIoUMetric', iou_metrics=['mIoU'], exclude_from_mean=()),
]
test_evaluator = val_evaluator
