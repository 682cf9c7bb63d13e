# Copyright (c) mmfusion contributors. All rights reserved.
"""Visualisation: the fusion visualizer (VIS | IR | fused grids through
any backend), its drawing helpers and metric plots. mmengine's visualizers
and backends stay reachable through the registry parents.

``FusionVisualizer`` is imported on first use (PEP 562): it subclasses
mmengine's ``Visualizer``, whose import costs a tool that only plots
metrics (``eval_fused.py``) about 0.7 s. The registry imports it when a
config names it."""
from mmfusion.utils.lazy import lazy_module_attrs
from .fusion_grid import (make_fusion_grid, render_task_prediction,
                          sample_fusion_grid)
from .metric_plots import plot_metric_distribution, plot_task_metrics

# name -> submodule, imported on first access
_LAZY = {'FusionVisualizer': 'fusion_visualizer'}

__all__ = [
    'FusionVisualizer', 'make_fusion_grid', 'sample_fusion_grid',
    'render_task_prediction', 'plot_metric_distribution', 'plot_task_metrics'
]

__getattr__, __dir__ = lazy_module_attrs(__name__, _LAZY)
