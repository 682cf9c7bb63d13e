# The task-free twin of TDFusion in the task-gain experiment (issue 23):
# tdfusion_r18_160x120.py with only the task-driven part taken out. ReFusion
# trains on the same weighted intensity + gradient loss with fixed, equal
# weights (ConstantLossGenerator: w_ir = w_vis = 0.5, in place of the learned
# loss generator), no meta steps and no in-loop task; the same fusion-net
# updates, crops, modality swap, optimiser, schedule and initialisation (same
# seed => same initial fusion-net weights). The 'meta' phase's iterations stay
# in the schedule as idle steps (model.task_driven=False: they draw their two
# batches and compute nothing), so the fusion steps see the method's batches
# in the method's order and the iteration-based lr milestones are the
# method's. Without a task there is no task metric to validate.
# tests/test_configs/test_task_gain_twins.py checks that nothing else differs.
_base_ = ['./tdfusion_r18_160x120.py']
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
