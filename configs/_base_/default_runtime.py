default_scope = 'mmfusion'
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # nccl on GPUs; mmfusion switches to gloo by itself on CPU-only machines
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
