# BDLFusion (Liu et al., IJCAI 2023): DRDB fusion net (leader), 1x1 pixel
# discriminator and a task model (followers); L1 + 1.1(1-SSIM) to the saliency
# pseudo-target; mean-logit adversarial terms 0.25 / 0.5 / 0.01. The task is
# set by each config (`model.task`).
model = dict(
    type='BDLFusion',
    data_preprocessor=dict(type='FusionDataPreprocessor', size_divisor=32),
    fusion_net=dict(type='DRDBFusionNet'),
    discriminator=dict(type='PixelDiscriminator'),
    fusion_loss=dict(type='SaliencyTargetLoss'),
    adv_weights=dict(disc=0.25, fusion=0.5, task=0.01),
    eta='task',
    tie_upper_lr=True,
    # principled default; 'random' reproduces the released code's weights
    aggregation='min_norm',
    colour='vis',
    output_norm='clip')
