# Copyright (c) mmfusion contributors. All rights reserved.
from .content_loss import MaxIntensityTextureLoss

__all__ = ['MaxIntensityTextureLoss']
