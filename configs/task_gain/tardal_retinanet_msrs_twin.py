# The task-free twin of TarDAL at published scale (task_gain_msrs_det_gpu.py):
# configs/tardal/tardal_retinanet_msrs.py with only the task-driven part
# taken out: no detector (model.task_driven=False, task=None,
# task_to_fusion=False), the same generator, critics, losses, data, phases and
# schedule. tests/test_configs/test_task_gain_twins.py checks that nothing
# else differs.
_base_ = ['../tardal/tardal_retinanet_msrs.py']
model = dict(task_driven=False, task=None, task_to_fusion=False)
optim_wrapper = dict(
    _delete_=True,
    constructor=_base_.optim_wrapper.constructor,
    fusion_net=_base_.optim_wrapper.fusion_net,
    target_discriminator=_base_.optim_wrapper.target_discriminator,
    detail_discriminator=_base_.optim_wrapper.detail_discriminator)
param_scheduler = dict(
    _delete_=True,
    fusion_net=_base_.param_scheduler.fusion_net,
    target_discriminator=[],
    detail_discriminator=[])
val_evaluator = [dict(type='FusionMetric')]
test_evaluator = val_evaluator
