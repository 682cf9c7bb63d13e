# Copyright (c) mmfusion contributors. All rights reserved.
from .content_loss import MaxIntensityTextureLoss
from .weighted_intensity_gradient_loss import WeightedIntensityGradientLoss

__all__ = ['MaxIntensityTextureLoss', 'WeightedIntensityGradientLoss']
