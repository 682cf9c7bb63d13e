# The task-free twin of bdlfusion_r18_320x240.py (issue 23): the same
# overrides as bdlfusion_r18_160x120_twin.py (the leader learns from the
# discriminator follower's hypergradient alone; everything else the
# method's). tests/test_configs/test_task_gain_twins.py checks that nothing
# else differs.
_base_ = ['./bdlfusion_r18_320x240.py']
model = dict(task_driven=False, task=None, eta='discriminator')
optim_wrapper = dict(
    _delete_=True,
    constructor=_base_.optim_wrapper.constructor,
    fusion_net=_base_.optim_wrapper.fusion_net,
    discriminator=_base_.optim_wrapper.discriminator)
val_evaluator = [dict(type='FusionMetric')]
test_evaluator = val_evaluator
