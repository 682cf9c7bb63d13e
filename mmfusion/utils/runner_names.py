# Copyright (c) mmfusion contributors. All rights reserved.
"""Several mmengine Runners in one process (a protocol that trains one model
after another, a test session) must not share mmengine's global instances:
the logger, message hub and visualizer are kept by name, and OpenMMLab
configs name their visualizer ``'visualizer'``, so a later runner would
silently reuse the first one's (writing into its log directory)."""
import time
import uuid
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:  # (importing mmengine.config costs ~0.2 s; not needed here)
    from mmengine.config import Config

__all__ = ['set_unique_run_name']


def set_unique_run_name(cfg: 'Config',
                        prefix: str,
                        unique: Optional[str] = None) -> str:
    """Give the runner built from ``cfg`` its own experiment name (used for
    its logger, message hub and default scope) and visualizer name.

    Args:
        cfg: runner config, changed in place.
        prefix: readable part of the name (e.g. the input or test name).
        unique: the distinguishing suffix; default: a timestamp and a short
            random id.

    Returns:
        str: the name.
    """
    if unique is None:
        unique = f'{time.strftime("%Y%m%d_%H%M%S")}_{uuid.uuid4().hex[:6]}'
    name = f'{prefix}_{unique}'
    cfg.experiment_name = name
    if isinstance(cfg.get('visualizer'), dict):
        cfg.visualizer.name = name
    return name
