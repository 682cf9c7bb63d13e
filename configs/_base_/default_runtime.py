default_scope = 'mmfusion'
# mmfusion's Runner: checkpoints whole or absent, damaged ones named (and
# auto-resume falling back to the previous intact one), safe loading on
# torch >= 2.6, distributed training on CPU-only machines (see
# docs/compat.md). (the mmfusion. prefix: found from mmengine's root registry
# too)
runner_type = 'mmfusion.FusionRunner'
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # nccl on GPUs; FusionRunner switches to gloo on CPU-only machines
    dist_cfg=dict(backend='nccl'),
)
custom_hooks = [dict(type='FusedImageSaveHook'), dict(type='RNGStateHook')]
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(
    type='Visualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
