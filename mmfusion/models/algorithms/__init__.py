# Copyright (c) mmfusion contributors. All rights reserved.
from .fusion_model import FusionModel

__all__ = ['FusionModel']
