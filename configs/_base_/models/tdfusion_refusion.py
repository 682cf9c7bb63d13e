# TDFusion (Bai et al., CVPR 2025): ReFusion fusion net, learnable fusion loss
# (loss generator + weighted intensity/gradient loss), in-loop task model.
# The task here is the published in-loop segmenter, SegFormer-B0 (MiT-b0,
# decoder width 256) taking the 1-channel fused Y, trained from scratch;
# configs swap it for any mmseg/mmdet model by overriding `model.task`.
num_classes = 9
model = dict(
    type='TDFusion',
    data_preprocessor=dict(type='FusionDataPreprocessor'),
    fusion_net=dict(type='ReFusionNet'),
    loss_generator=dict(type='TDFusionLossGenerator'),
    fusion_loss=dict(
        type='WeightedIntensityGradientLoss', int_weight=1.0, grad_weight=1.0),
    task=dict(
        type='TaskAdapter',
        cfg_path='mmseg::_base_/models/segformer_mit-b0.py',
        model=dict(
            # 1-channel input; no padding (mmseg's preprocessor needs `size`
            # or `size_divisor`: 1 pads nothing): SegFormer takes the
            # 240x320 view as it is, as the released code does
            data_preprocessor=dict(mean=[127.5], std=[127.5], size_divisor=1),
            backbone=dict(in_channels=1),
            decode_head=dict(num_classes=num_classes)),
        input_format='y'),
    inner_lr='fusion',
    outer_lr='fusion',
    second_order=True,
    restore_task=True,
    swap_modalities=True,
    fusion_crop_size=(256, 256),  # one window per pair, before the swap
    task_input_size=(240, 320),
    # the task loss at the labels' full resolution (the head upsamples its
    # logits); a task that pads to a multiple gets a view of that multiple
    task_labels='full',
    task_padding='resize',
    colour='saturation',
    output_norm='minmax')
