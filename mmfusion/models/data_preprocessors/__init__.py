# Copyright (c) mmfusion contributors. All rights reserved.
from .fusion_data_preprocessor import FusionDataPreprocessor

__all__ = ['FusionDataPreprocessor']
