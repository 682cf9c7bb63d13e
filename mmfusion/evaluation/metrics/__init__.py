# Copyright (c) mmfusion contributors. All rights reserved.
from .fusion_metric import FusionMetric

__all__ = ['FusionMetric']
