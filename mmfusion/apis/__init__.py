# Copyright (c) mmfusion contributors. All rights reserved.
"""High-level Python APIs: inference (:mod:`.fusion_inferencer`), scoring
folders of fused images (:mod:`.folder_evaluation`), the task-driven
protocol (:mod:`.task_driven`) and the task-gain experiment
(:mod:`.task_gain`).

The names below are imported on first use (PEP 562), so that a tool imports
only what it needs: fusing a folder imports neither the task-driven protocol
nor mmseg/mmdet."""
import importlib

# name -> submodule, imported on first access
_LAZY = {
    'FusionInferencer': 'fusion_inferencer',
    'collect_pairs': 'fusion_inferencer',
    'TaskGainExperiment': 'task_gain',
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(
            importlib.import_module(f'.{_LAZY[name]}', __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
