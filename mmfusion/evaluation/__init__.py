# Copyright (c) mmfusion contributors. All rights reserved.
"""Fusion and task metrics: the metric maths (:mod:`.functional`, imported
here) and the mmengine metrics (:mod:`.metrics`, imported on first use:
``SegIoUMetric`` subclasses mmseg's ``IoUMetric``, so importing it imports
mmseg, which scoring fused images does not need). The registry imports
:mod:`.metrics` when a config names one of them."""
from mmfusion.utils.lazy import lazy_module_attrs
from .functional import *  # noqa: F401,F403
from .functional import __all__ as _functional_all

# name -> submodule, imported on first access (PEP 562)
_LAZY = {'FusionMetric': 'metrics', 'SegIoUMetric': 'metrics'}

__all__ = list(_functional_all) + list(_LAZY)

__getattr__, __dir__ = lazy_module_attrs(__name__, _LAZY)
