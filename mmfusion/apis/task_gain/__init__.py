# Copyright (c) mmfusion contributors. All rights reserved.
"""The task-gain experiment: does task-driven training give fused images on
which a downstream model does better than on VIS alone, IR alone, a fixed
fusion rule, and the same net trained the same way *without* the task (its
task-free twin)?

One preset (``configs/task_gain/task_gain_*.py``) names the data, the
fusion methods to train with mmfusion's own strategies (each with an
optional twin), the fusion seeds, the external inputs (a fixed rule,
released weights) and the task config of the task-driven protocol
(:class:`~mmfusion.apis.task_driven.TaskDrivenEvaluation`).
:class:`TaskGainExperiment` runs the stages in order, every unit of work
reused when its result exists and was made by the same configuration, an
interrupted training resumed (run identity and claiming:
:mod:`mmfusion.apis.task_driven.identity`), a progress line after each unit
with the elapsed time and an estimate of what is left:

1. ``data``: the dataset, optionally downscaled (images area-interpolated,
   label masks nearest) into ``WORK_DIR/data/<name>``;
2. ``rules``: the fused images of fixed rules, ``WORK_DIR/fused/``;
3. ``released``: released weights converted to mmfusion checkpoints;
4. ``train``: under every fusion seed, every method and its twin trained
   on the train split, in this process (a warm-up run first where the
   method's published schedule starts from a trained fusion net; the twin
   starts from the same one), ``WORK_DIR/methods/<name>/[seed_<s>/]``;
5. ``task_eval``: the task-driven protocol for every input and seed,
   ``WORK_DIR/task_eval/``;
6. ``report``: the task table (mean ± std over the protocol seeds), the
   paired differences method − twin (mean and 95 % CI over the fusion
   seeds, verdict), the 14 fusion metrics, a bar plot, a picture grid and
   what TDFusion's loss generator learned: ``WORK_DIR/task_gain.{md,csv,
   json,png}``, ``task_gain_grid.png``; the wall time of every unit in
   ``WORK_DIR/timings.json``.

With a state dir (:mod:`.state`), every finished unit is also kept there,
small enough to commit, and taken back into the work dir when the
experiment starts: an experiment longer than one machine's lifetime goes on
on the next.

By role: :mod:`.preset` (the preset and its fusion runs), :mod:`.data`,
:mod:`.training`, :mod:`.progress`, :mod:`.state`, :mod:`.report`,
:mod:`.runner`.
Nothing is downloaded: task models are built from scratch unless their
config says otherwise.
"""
from .data import fuse_with_rule, prepare_dataset
from .preset import FusionRun, fusion_runs, load_preset
from .report import loss_generator_weights, paired_differences
from .runner import STAGES, TaskGainExperiment, parse_stages
from .state import restore_state, save_state
from .training import TRAINED_FILE, train_fusion

__all__ = [
    'STAGES', 'TaskGainExperiment', 'parse_stages', 'prepare_dataset',
    'fuse_with_rule', 'loss_generator_weights', 'paired_differences',
    'FusionRun', 'fusion_runs', 'load_preset', 'train_fusion', 'TRAINED_FILE',
    'save_state', 'restore_state'
]
