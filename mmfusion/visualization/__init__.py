# Copyright (c) mmfusion contributors. All rights reserved.
"""Visualisation: the fusion visualizer (VIS | IR | fused grids through
any backend), its drawing helpers and metric plots. mmengine's visualizers
and backends stay reachable through the registry parents."""
from .fusion_grid import (make_fusion_grid, render_task_prediction,
                          sample_fusion_grid)
from .fusion_visualizer import FusionVisualizer
from .metric_plots import plot_metric_distribution, plot_task_metrics

__all__ = [
    'FusionVisualizer', 'make_fusion_grid', 'sample_fusion_grid',
    'render_task_prediction',
    'plot_metric_distribution', 'plot_task_metrics'
]
