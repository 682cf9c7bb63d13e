# Copyright (c) mmfusion contributors. All rights reserved.
from .constant_loss_generator import ConstantLossGenerator
from .tdfusion_loss_generator import TDFusionLossGenerator

__all__ = ['TDFusionLossGenerator', 'ConstantLossGenerator']
