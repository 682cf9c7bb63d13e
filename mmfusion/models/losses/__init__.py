# Copyright (c) mmfusion contributors. All rights reserved.
from .content_loss import MaxIntensityTextureLoss
from .mean_logit_gan_loss import MeanLogitGANLoss
from .ohem_cross_entropy_loss import OHEMCrossEntropyLoss
from .saliency_target_loss import SaliencyTargetLoss
from .tardal_loss import MSSSIML1Loss, TarDALContentLoss
from .weighted_intensity_gradient_loss import WeightedIntensityGradientLoss

__all__ = [
    'MaxIntensityTextureLoss', 'WeightedIntensityGradientLoss',
    'SaliencyTargetLoss', 'MeanLogitGANLoss', 'OHEMCrossEntropyLoss',
    'MSSSIML1Loss', 'TarDALContentLoss'
]
