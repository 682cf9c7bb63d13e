# Copyright (c) mmfusion contributors. All rights reserved.
from typing import Dict, Optional

import torch
from mmengine.logging import MessageHub
from mmengine.model import is_model_wrapper
from torch import Tensor


def unwrap(module: torch.nn.Module) -> torch.nn.Module:
    """The module inside a DDP (or other mmengine) wrapper, else itself."""
    return module.module if is_model_wrapper(module) else module


def prefix_log_vars(**groups: dict) -> Dict[str, Tensor]:
    """``prefix_log_vars(task={'loss': x})`` -> ``{'task.loss': x}``."""
    return {
        f'{prefix}.{k}': v
        for prefix, log in groups.items()
        for k, v in log.items()
    }


def stream_seed(seed: int, index: Optional[int] = None) -> int:
    """The seed of a private random stream for ``(seed, index)``; ``index``
    defaults to the current training iteration (the message hub's
    ``'iter'``). The same on every DDP rank and in a resumed run, so a
    random choice made from it (crop positions, a jitter, a re-init, an
    aggregation draw) is reproducible without touching the global stream."""
    if index is None:
        index = MessageHub.get_current_instance().get_info('iter', 0)
    return int(seed) * 1000003 + int(index)


def seeded_generator(seed: int,
                     index: Optional[int] = None) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded with :func:`stream_seed`."""
    return torch.Generator().manual_seed(stream_seed(seed, index))
