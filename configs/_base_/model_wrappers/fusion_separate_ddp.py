# Distributed training of a multi-network fusion algorithm (TDFusion,
# BDLFusion, joint SeAFusion): one DDP wrapper per sub-network (fusion net,
# loss generator / discriminator, task), see FusionSeparateDDP. The task's
# DDP finds unused parameters (e.g. a segmentor's auxiliary head, a detector's
# branches a phase does not use).
model_wrapper_cfg = dict(
    # (the mmfusion. prefix: Runner.wrap_model looks the type up in mmengine's
    # root registry, which does not search scopes without it)
    type='mmfusion.FusionSeparateDDP',
    broadcast_buffers=False,
    find_unused_parameters=False,
    child_kwargs=dict(task=dict(find_unused_parameters=True)))
