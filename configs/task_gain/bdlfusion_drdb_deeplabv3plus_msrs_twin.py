# The task-free twin of configs/bdlfusion/bdlfusion_drdb_deeplabv3plus_msrs.py
# (issue 23, the published-scale GPU preset task_gain_msrs_gpu.py): as
# bdlfusion_r18_160x120_twin.py, the DRDB leader learns from the
# discriminator follower's hypergradient alone (no task follower, no
# aggregation) at the same iterations, from the same warm start; eta tied to
# the discriminator's lr, which follows the same schedule as the task's in
# the method (the test checks it).
# tests/test_configs/test_task_gain_twins.py checks that nothing else differs.
_base_ = ['../bdlfusion/bdlfusion_drdb_deeplabv3plus_msrs.py']
model = dict(task_driven=False, task=None, eta='discriminator')
optim_wrapper = dict(
    _delete_=True,
    constructor=_base_.optim_wrapper.constructor,
    fusion_net=_base_.optim_wrapper.fusion_net,
    discriminator=_base_.optim_wrapper.discriminator)
val_evaluator = [dict(type='FusionMetric')]
test_evaluator = val_evaluator
