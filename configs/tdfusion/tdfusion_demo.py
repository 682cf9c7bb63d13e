# Demo: TDFusion on the 12 MSRS pairs bundled in data/msrs_demo, on 2 CPU
# cores in a few minutes: the loss generator (meta.* / meta_inner.w_ir), the
# fusion net (fusion.*) and the task (task.*) all learn. The task is a small
# DeepLabV3+ (ResNetV1c-18 at 1/4 width) on the 1-channel fused Y.
_base_ = ['./segformer_msrs.py']

data_root = 'data/msrs_demo'
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    task=dict(
        _delete_=True,
        type='TaskAdapter',
        model=dict(
            _scope_='mmseg',
            type='EncoderDecoder',
            data_preprocessor=dict(
                type='SegDataPreProcessor',
                mean=[127.5],
                std=[127.5],
                pad_val=0,
                seg_pad_val=255,
                size_divisor=1),  # no padding: any size works
            backbone=dict(
                type='ResNetV1c',
                depth=18,
                in_channels=1,
                stem_channels=16,
                base_channels=16,
                out_indices=(0, 1, 2, 3),
                norm_cfg=norm_cfg),
            decode_head=dict(
                type='DepthwiseSeparableASPPHead',
                in_channels=128,
                in_index=3,
                channels=32,
                dilations=(1, 6, 12, 18),
                c1_in_channels=16,
                c1_channels=16,
                dropout_ratio=0.1,
                num_classes=9,
                norm_cfg=norm_cfg,
                align_corners=False,
                loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)),
            train_cfg=dict(),
            test_cfg=dict(mode='whole')),
        input_format='y'),
    fusion_crop_size=(128, 128),
    task_input_size=(120, 160))

train_dataloader = dict(
    batch_size=1,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root))
val_dataloader = dict(
    num_workers=0, persistent_workers=False, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader

meta_steps = 4
iters_per_epoch = meta_steps + 8  # 8 bundled train pairs
optim_wrapper = dict(
    fusion_net=dict(optimizer=dict(lr=1e-3)),
    task=dict(optimizer=dict(lr=1e-3)))
param_scheduler = dict(fusion_net=[], task=[], loss_generator=[])
train_cfg = dict(
    phases=[
        dict(name='meta', iters=meta_steps, batches_per_iter=2),
        dict(name='fusion', iters='epoch'),
    ],
    max_iters=4 * iters_per_epoch,
    val_interval=2 * iters_per_epoch)
default_hooks = dict(
    logger=dict(interval=4), checkpoint=dict(interval=2 * iters_per_epoch))
