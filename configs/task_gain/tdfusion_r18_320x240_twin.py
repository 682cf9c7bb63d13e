# The task-free twin of tdfusion_r18_320x240.py (issue 23): the same
# overrides as tdfusion_r18_160x120_twin.py (fixed, equal loss weights; no
# meta steps, no in-loop task; everything else the method's).
# tests/test_configs/test_task_gain_twins.py checks that nothing else differs.
_base_ = ['./tdfusion_r18_320x240.py']
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
