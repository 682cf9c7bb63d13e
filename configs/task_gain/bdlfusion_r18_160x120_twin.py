# The task-free twin of BDLFusion in the task-gain experiment (issue 23):
# bdlfusion_r18_160x120.py with only the task-driven part taken out. The DRDB
# leader learns from its lower-level fusion objective alone: the
# discriminator follower's hypergradient (model.task_driven=False: no task
# follower, no aggregation), at the same iterations (a leader step every
# upper_interval-th iteration, same batches, same warm start). eta is tied to
# the discriminator's lr, which follows the same schedule as the task's in
# the method (the test checks it). Without a task there is no task metric
# to validate.
# tests/test_configs/test_task_gain_twins.py checks that nothing else differs.
_base_ = ['./bdlfusion_r18_160x120.py']
model = dict(task_driven=False, task=None, eta='discriminator')
optim_wrapper = dict(
    _delete_=True,
    constructor=_base_.optim_wrapper.constructor,
    fusion_net=_base_.optim_wrapper.fusion_net,
    discriminator=_base_.optim_wrapper.discriminator)
val_evaluator = [dict(type='FusionMetric')]
test_evaluator = val_evaluator
