# Copyright (c) mmfusion contributors. All rights reserved.
"""High-level Python APIs: inference (:mod:`.fusion_inferencer`), scoring
folders of fused images (:mod:`.folder_evaluation`), the task-driven
protocol (:mod:`.task_driven`) and the task-gain experiment
(:mod:`.task_gain`).

The names below are imported on first use (PEP 562), so that a tool imports
only what it needs: fusing a folder imports neither the task-driven protocol
nor mmseg/mmdet."""
from mmfusion.utils.lazy import lazy_module_attrs

# name -> submodule, imported on first access
_LAZY = {
    'FusionInferencer': 'fusion_inferencer',
    'collect_pairs': 'fusion_inferencer',
    'TaskGainExperiment': 'task_gain',
}

__all__ = list(_LAZY)

__getattr__, __dir__ = lazy_module_attrs(__name__, _LAZY)
