# The task-free twin of configs/tdfusion/segformer_msrs.py (issue 23, the
# published-scale GPU preset task_gain_msrs_gpu.py): the same overrides as
# tdfusion_r18_160x120_twin.py (fixed, equal loss weights; no meta steps, no
# in-loop task: the meta phase's iterations stay as idle steps so that the
# fusion steps see the method's batches and lr milestones).
# tests/test_configs/test_task_gain_twins.py checks that nothing else differs.
_base_ = ['../tdfusion/segformer_msrs.py']
model = dict(
    task_driven=False,
    task=None,
    loss_generator=dict(
        _delete_=True, type='ConstantLossGenerator', weights=(0.5, 0.5)))
optim_wrapper = dict(
    _delete_=True,
    constructor=_base_.optim_wrapper.constructor,
    fusion_net=_base_.optim_wrapper.fusion_net)
val_evaluator = [dict(type='FusionMetric')]
test_evaluator = val_evaluator
