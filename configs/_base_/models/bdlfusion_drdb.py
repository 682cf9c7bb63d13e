# BDLFusion (Liu et al., IJCAI 2023): DRDB fusion net (leader), 1x1 pixel
# discriminator and a task model (followers); L1 + 1.1(1-SSIM) to the saliency
# pseudo-target; mean-logit adversarial terms 0.25 / 0.5 / 0.01. The task is
# set by each config (`model.task`; the released code's task input is
# input_format='rgb_minmax'). As the released code computes it: the raw
# (unclamped) fused Y, the mean of the two hypergradients, the fused RGB
# clamped and min-max stretched per image at test time (its test.py). See
# docs/bdlfusion.md, "Differences from the official code".
model = dict(
    type='BDLFusion',
    data_preprocessor=dict(type='FusionDataPreprocessor', size_divisor=32),
    fusion_net=dict(type='DRDBFusionNet', clamp_output=False),
    discriminator=dict(type='PixelDiscriminator'),
    fusion_loss=dict(type='SaliencyTargetLoss'),
    adv_weights=dict(disc=0.25, fusion=0.5, task=0.01),
    eta='task',
    tie_upper_lr=True,
    # 'mean': what the released code computes (its random weights act on
    # aliased gradients); 'random': those weights as written (the paper's
    # dynamic weighting); 'min_norm': mmfusion's balancing rule
    aggregation='mean',
    colour='vis',
    output_norm='minmax')
