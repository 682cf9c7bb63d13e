# SeAFusion joint adaptive training (Tang et al., Information Fusion 2022):
# SeAFusionNet + content loss (L_int + 10 L_text) + beta_r x the semantic loss
# of a frozen segmenter, which then continues training on the fused images.
# The segmenter is mmseg's BiSeNetV1 with an ImageNet ResNet-18 context path
# (the released code removes the spatial path; mmseg's keeps it), OHEM CE on
# the main head and on one auxiliary head (the 1/8 context feature, the
# released `conv_out16`): 1 x main + 0.75 x aux when it trains, 1 x main +
# 0.1 x aux inside the fusion net's semantic loss (semantic_loss_scale).
# OHEM: keep pixels with p(gt) < 0.7 (loss > -ln 0.7), at least
# n_min = 480 x 640 / 16 per image (published: 307,200 per batch of 16), and
# average the CE over the kept pixels (OHEMCrossEntropyLoss; mmseg's
# CrossEntropyLoss would divide by all pixels); label 0 (unlabelled) is a
# trained class, 255 is ignored.
num_classes = 9
norm_cfg = dict(type='SyncBN', requires_grad=True)  # BN on CPU (TaskAdapter)
ohem = dict(type='OHEMPixelSampler', thresh=0.7, min_kept=480 * 640 // 16)
segmenter = dict(
    _scope_='mmseg',
    type='EncoderDecoder',
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        # the released segmenter sees RGB in [0, 1], not normalised
        # (cityscapes.py: ToTensor, Normalize commented out; train.py feeds
        # the clamped fused RGB)
        mean=[0., 0., 0.],
        std=[255., 255., 255.],
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255,
        size_divisor=32),
    backbone=dict(
        type='BiSeNetV1',
        in_channels=3,
        context_channels=(128, 256, 512),
        spatial_channels=(64, 64, 64, 128),
        out_indices=(0, 1),
        out_channels=256,
        backbone_cfg=dict(
            type='ResNet',
            in_channels=3,
            depth=18,
            num_stages=4,
            out_indices=(0, 1, 2, 3),
            dilations=(1, 1, 1, 1),
            strides=(1, 2, 2, 2),
            norm_cfg=norm_cfg,
            norm_eval=False,
            style='pytorch',
            contract_dilation=True,
            # ImageNet weights, as the released Resnet18.init_weight (kept
            # by the adapter's pretrained='init_cfg' below; read from the
            # torch hub cache offline, or pretrained=False: from scratch)
            init_cfg=dict(
                type='Pretrained', checkpoint='torchvision://resnet18')),
        norm_cfg=norm_cfg,
        align_corners=False,
        init_cfg=None),
    decode_head=dict(
        type='FCNHead',
        in_channels=256,
        in_index=0,
        channels=256,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        num_classes=num_classes,
        norm_cfg=norm_cfg,
        align_corners=False,
        sampler=ohem,
        loss_decode=dict(
            type='mmfusion.OHEMCrossEntropyLoss', loss_weight=1.0)),
    auxiliary_head=dict(
        type='FCNHead',
        in_channels=128,
        in_index=1,
        channels=64,
        num_convs=1,
        concat_input=False,
        num_classes=num_classes,
        norm_cfg=norm_cfg,
        align_corners=False,
        sampler=ohem,
        loss_decode=dict(
            type='mmfusion.OHEMCrossEntropyLoss', loss_weight=0.75)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

model = dict(
    type='SeAFusion',
    data_preprocessor=dict(type='FusionDataPreprocessor'),
    fusion_net=dict(type='SeAFusionNet'),
    fusion_loss=dict(
        type='MaxIntensityTextureLoss', int_weight=1.0, texture_weight=10.0),
    task=dict(
        type='TaskAdapter',
        model=segmenter,
        input_format='rgb',
        pretrained='init_cfg'),  # the context path's ImageNet init
    semantic_weights=[0., 1., 2., 3.],  # beta_r = r, rounds r = 0..3
    semantic_loss_scale=dict(aux=0.1 / 0.75),  # 0.75 x aux -> 0.1 x aux
    reinit_fusion_net=True,  # published: a new FusionNet every round
    reset_fusion_optimizer=True,  # ... and a new Adam
    reset_task_optimizer=True,  # a new SGD for the segmenter every round
    # the segmenter's ColorJitter, here on the fused RGB of the task phase
    task_colour_jitter=dict(brightness=0.5, contrast=0.5, saturation=0.5),
    predict_task=True,
    colour='vis',
    output_norm='clip')
