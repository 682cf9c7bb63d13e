# Copyright (c) mmfusion contributors. All rights reserved.
"""High-level Python APIs (inference)."""
from .fusion_inferencer import FusionInferencer, collect_pairs

__all__ = ['FusionInferencer', 'collect_pairs']
