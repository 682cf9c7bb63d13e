# The task-free twin of configs/seafusion/seafusion_joint_msrs.py (issue 23,
# the published-scale GPU preset task_gain_msrs_gpu.py): as
# seafusion_joint_r18_160x120_twin.py, the same rounds with beta_r = 0 (the
# content loss alone) and no segmenter (the 'task' phase's iterations stay
# in the schedule as idle steps).
# tests/test_configs/test_task_gain_twins.py checks that nothing else differs.
_base_ = ['../seafusion/seafusion_joint_msrs.py']
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
