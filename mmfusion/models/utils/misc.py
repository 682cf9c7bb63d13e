# Copyright (c) mmfusion contributors. All rights reserved.
from typing import Dict

import torch
from mmengine.model import is_model_wrapper
from torch import Tensor


def unwrap(module: torch.nn.Module) -> torch.nn.Module:
    """The module inside a DDP (or other mmengine) wrapper, else itself."""
    return module.module if is_model_wrapper(module) else module


def prefix_log_vars(**groups: dict) -> Dict[str, Tensor]:
    """``prefix_log_vars(task={'loss': x})`` -> ``{'task.loss': x}``."""
    return {
        f'{prefix}.{k}': v
        for prefix, log in groups.items() for k, v in log.items()
    }
