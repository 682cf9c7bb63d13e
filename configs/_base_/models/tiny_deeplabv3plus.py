# The small task model of the CPU demos, the CPU task-gain experiment and the
# tests: mmseg's DeepLabV3+ on a ResNetV1c-18 at 1/4 width (0.8 M params,
# from scratch), 9 MSRS classes. One copy, as a variable rather than `model`
# (a config inherits it next to its method's base, which owns `model`):
#   _base_ = ['./segformer_msrs.py', '../_base_/models/tiny_deeplabv3plus.py']
#   model = dict(task=dict(
#       _delete_=True, type='TaskAdapter',
#       model=dict(_base_.tiny_segmentor, _scope_='mmseg',
#                  backbone=dict(_base_.tiny_segmentor.backbone,
#                                in_channels=1))))
# Each use adds what differs (`dict(base, key=value)`): `_scope_='mmseg'`
# inside a TaskAdapter, the input channels, the padding of the preprocessor
# (`size` or `size_divisor`; none here: no padding), class weights or
# another loss, `init_cfg`. mmfusion.testing.tiny_segmentor reads this file.
tiny_segmentor = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255),
    backbone=dict(
        type='ResNetV1c',
        depth=18,
        stem_channels=16,
        base_channels=16,
        out_indices=(0, 1, 2, 3),
        norm_cfg=dict(type='BN', requires_grad=True)),
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
        norm_cfg=dict(type='BN', requires_grad=True),
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
