# The task-free twin of SeAFusion in the task-gain experiment (issue 23):
# seafusion_joint_r18_160x120.py with only the task-driven part taken out:
# the same rounds (a new fusion net from the same per-round seed, the same
# epochs, lr schedule and batches) with beta_r = 0, i.e. the content loss
# alone, and no segmenter (model.task_driven=False: the 'task' phase's
# iterations stay in the schedule as idle steps that draw their batch and
# compute nothing). Without a task there is no task metric to validate.
# tests/test_configs/test_task_gain_twins.py checks that nothing else differs.
_base_ = ['./seafusion_joint_r18_160x120.py']
model = dict(
    task_driven=False, task=None, semantic_weights=[0.0] * _base_.rounds)
optim_wrapper = dict(
    _delete_=True,
    constructor=_base_.optim_wrapper.constructor,
    fusion_net=_base_.optim_wrapper.fusion_net)
default_hooks = dict(
    param_scheduler=dict(phases=dict(_delete_=True, fusion_net='fusion')))
val_evaluator = [dict(type='FusionMetric')]
test_evaluator = val_evaluator
