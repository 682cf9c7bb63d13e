# Copyright (c) mmfusion contributors. All rights reserved.
"""Task-driven evaluation: how well does a downstream model do on the fused
images of a method, compared with the visible and the infrared image alone?

By role:

- :mod:`.sources`: what one row of the table sees (:class:`InputSource`);
- :mod:`.configs`: config rewriting (the datasets a task config reads, the
  config of one source);
- :mod:`.identity`: run identity and caching (what a finished run was made
  from; reuse, resume or move aside);
- :mod:`.protocol`: the orchestration (:class:`TaskDrivenEvaluation`);
- :mod:`.report`: the result and its report (:class:`TaskEvalResult`,
  :func:`write_task_report`).

See ``docs/task_driven_evaluation.md``.
"""
from .configs import LOADERS, modality_loaders, resolve_fused_folder
from .identity import RESULT_FILE
from .protocol import TaskDrivenEvaluation
from .report import (TaskEvalResult, aggregate_seeds, default_plot_metrics,
                     write_task_report)
from .sources import InputSource

__all__ = [
    'InputSource', 'TaskEvalResult', 'TaskDrivenEvaluation',
    'modality_loaders', 'resolve_fused_folder', 'default_plot_metrics',
    'write_task_report', 'aggregate_seeds', 'LOADERS', 'RESULT_FILE'
]
