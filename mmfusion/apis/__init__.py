# Copyright (c) mmfusion contributors. All rights reserved.
"""High-level Python APIs: inference and the task-gain experiment."""
from .fusion_inferencer import FusionInferencer, collect_pairs
from .task_gain import TaskGainExperiment

__all__ = ['FusionInferencer', 'collect_pairs', 'TaskGainExperiment']
