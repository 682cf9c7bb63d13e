# Copyright (c) mmfusion contributors. All rights reserved.
from ._models import tiny_detector, tiny_segmentor

__all__ = ['tiny_segmentor', 'tiny_detector']
