# Copyright (c) mmfusion contributors. All rights reserved.
"""What the pinned OpenMMLab stack needs on torch 2.13, and where it lives.

``import mmfusion`` changes nothing in mmengine, mmseg, mmdet or torch: each
fix is a component that mmfusion's configs and tools select (see
``docs/compat.md``), so a plain mmengine ``Runner`` or a user's own mmseg
loss in the same process behaves exactly as without mmfusion.

* Checkpoints whole or absent, damaged ones named, safe loading on torch
  >= 2.6: :class:`~mmfusion.engine.runner.FusionRunner` (``runner_type`` in
  ``configs/_base_/default_runtime.py``) with
  :mod:`mmfusion.utils.checkpoint`.
* ``--launcher pytorch`` on CPU-only machines: ``FusionRunner`` and
  :func:`mmfusion.utils.dist.init_dist`.
* mmseg 1.2.2's class-weighted cross-entropy on ignored pixels, mmdet
  3.3.0's SSD predict, ``torchvision://`` weights without torchvision and
  offline: the task adapter
  (:mod:`mmfusion.models.task_adapters.task_fixes`).
* ``pkg_resources``: mmengine resolves ``mmseg::``/``mmdet::`` config paths
  with it, and setuptools 81 removed it; :func:`check_pkg_resources` warns
  with the fix (``import mmfusion`` calls it; a warning, nothing changed).

The checkpoint functions are also importable from here, as before.
"""
import importlib.util
import warnings

from .checkpoint import (CheckpointDamagedError, checkpoint_damage,
                         checkpoint_safe_globals, hub_checkpoint_dir,
                         latest_intact_checkpoint, load_checkpoint_file,
                         previous_intact_checkpoint, save_checkpoint_file,
                         torchvision_url)

__all__ = [
    'check_pkg_resources', 'CheckpointDamagedError', 'checkpoint_damage',
    'checkpoint_safe_globals', 'hub_checkpoint_dir',
    'latest_intact_checkpoint', 'load_checkpoint_file',
    'previous_intact_checkpoint', 'save_checkpoint_file', 'torchvision_url'
]


def check_pkg_resources() -> None:
    """Warn with the fix if ``pkg_resources`` (setuptools<81) is missing."""
    if importlib.util.find_spec('pkg_resources') is None:
        warnings.warn(
            'mmengine needs `pkg_resources` to resolve `mmseg::`/`mmdet::` '
            'config paths, and setuptools>=81 no longer ships it. Run '
            '`pip install "setuptools<81"`.')
