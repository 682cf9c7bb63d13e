# Copyright (c) mmfusion contributors. All rights reserved.
from .tdfusion_loss_generator import TDFusionLossGenerator

__all__ = ['TDFusionLossGenerator']
