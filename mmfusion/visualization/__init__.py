# Copyright (c) mmfusion contributors. All rights reserved.
"""Visualisation: the fusion visualizer (VIS | IR | fused grids through
any backend), its drawing helpers and metric plots. mmengine's visualizers
and backends stay reachable through the registry parents.

``FusionVisualizer`` is imported on first use (PEP 562): it subclasses
mmengine's ``Visualizer``, whose import costs a tool that only plots
metrics (``eval_fused.py``) about 0.7 s. The registry imports it when a
config names it."""
import importlib

from .fusion_grid import (make_fusion_grid, render_task_prediction,
                          sample_fusion_grid)
from .metric_plots import plot_metric_distribution, plot_task_metrics

# name -> submodule, imported on first access
_LAZY = {'FusionVisualizer': 'fusion_visualizer'}

__all__ = [
    'FusionVisualizer', 'make_fusion_grid', 'sample_fusion_grid',
    'render_task_prediction', 'plot_metric_distribution', 'plot_task_metrics'
]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(
            importlib.import_module(f'.{_LAZY[name]}', __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
