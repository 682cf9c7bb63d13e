# Demo: TDFusion on the 12 MSRS pairs bundled in data/msrs_demo, on 2 CPU
# cores in a few minutes: the loss generator (meta.* / meta_inner.w_ir), the
# fusion net (fusion.*) and the task (task.*) all learn. The task is a small
# DeepLabV3+ (ResNetV1c-18 at 1/4 width) on the 1-channel fused Y.
_base_ = ['./segformer_msrs.py', '../_base_/models/tiny_deeplabv3plus.py']

data_root = 'data/msrs_demo'
model = dict(
    task=dict(
        _delete_=True,
        type='TaskAdapter',
        model=dict(
            _base_.tiny_segmentor,
            _scope_='mmseg',
            data_preprocessor=dict(
                type='SegDataPreProcessor',
                mean=[127.5],
                std=[127.5],
                pad_val=0,
                seg_pad_val=255,
                size_divisor=1),  # no padding: any size works
            backbone=dict(_base_.tiny_segmentor.backbone, in_channels=1)),
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
