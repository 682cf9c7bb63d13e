# Demo: TarDAL on the 12 MSRS pairs bundled in data/msrs_demo in a few
# minutes on 2 CPU cores: the generator (fusion.*), the detector (task.*) and
# both critics (target.*, detail.*) learn; 4 iterations without, then 12 with
# the adversarial terms. Small pairs (96x96), the generator and critics at
# half width (dim 16) and a small RetinaNet (ResNet-18 at 1/8 width).
_base_ = ['./tardal_retinanet_msrs.py', '../_base_/models/tiny_retinanet.py']

data_root = 'data/msrs_demo'
size = 96
model = dict(
    fusion_net=dict(dim=16),
    target_discriminator=dict(dim=16, size=(size, size)),
    detail_discriminator=dict(dim=16, size=(size, size)),
    task=dict(
        _delete_=True,
        type='TaskAdapter',
        model=dict(
            _base_.tiny_detector,
            _scope_='mmdet',
            test_cfg=dict(_base_.tiny_detector.test_cfg, max_per_img=20)),
        input_format='rgb'))
train_pipeline = [
    dict(type='LoadPairedImageFromFile'),
    dict(type='mmdet.LoadAnnotations', with_bbox=True, with_label=True),
    dict(type='mmdet.Resize', scale=(size, size), keep_ratio=False),
    dict(type='mmdet.RandomFlip', prob=0.5),
    dict(type='PackFusionInputs'),
]
# validation on the 4 bundled test pairs at full resolution: FusionMetric
# compares the fused image with the original files
test_pipeline = [
    dict(type='LoadPairedImageFromFile'),
    dict(type='mmdet.LoadAnnotations', with_bbox=True, with_label=True),
    dict(type='PackFusionInputs'),
]
train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
_joint = dict(accumulative_counts=1, optimizer=dict(lr=1e-3))
optim_wrapper = dict(
    fusion_net=_joint,
    task=_joint,
    target_discriminator=dict(optimizer=dict(lr=1e-4)),
    detail_discriminator=dict(optimizer=dict(lr=1e-4)))
param_scheduler = dict(
    fusion_net=[], task=[], target_discriminator=[], detail_discriminator=[])
train_cfg = dict(
    phases=[dict(name='warmup', iters=4),
            dict(name='joint', iters=12)],
    max_iters=16,
    val_interval=16)
default_hooks = dict(logger=dict(interval=4), checkpoint=dict(interval=16))
