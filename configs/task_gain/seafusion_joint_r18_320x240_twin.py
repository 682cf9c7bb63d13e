# The task-free twin of seafusion_joint_r18_320x240.py (issue 23): the same
# overrides as seafusion_joint_r18_160x120_twin.py (the same rounds with
# beta_r = 0, no segmenter; everything else the method's).
# tests/test_configs/test_task_gain_twins.py checks that nothing else differs.
_base_ = ['./seafusion_joint_r18_320x240.py']
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
