# Copyright (c) mmfusion contributors. All rights reserved.
from .fusion_metric import FusionMetric
from .seg_iou_metric import SegIoUMetric

__all__ = ['FusionMetric', 'SegIoUMetric']
