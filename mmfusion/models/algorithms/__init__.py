# Copyright (c) mmfusion contributors. All rights reserved.
from .fusion_model import FusionModel
from .tdfusion import TDFusion

__all__ = ['FusionModel', 'TDFusion']
