# Copyright (c) mmfusion contributors. All rights reserved.
from typing import Optional

import torch.nn as nn
from mmengine.device import get_device
from mmengine.model import (MMDistributedDataParallel,
                            MMSeparateDistributedDataParallel)

from mmfusion.registry import MODEL_WRAPPERS


@MODEL_WRAPPERS.register_module()
class FusionSeparateDDP(MMSeparateDistributedDataParallel):
    """DDP for multi-network fusion algorithms, one DDP per sub-network.

    Like mmengine's :class:`MMSeparateDistributedDataParallel` (each child
    with trainable parameters gets its own :class:`MMDistributedDataParallel`
    and ``train_step`` is delegated to the algorithm), plus per-child DDP
    arguments: a task model with heads unused by some steps needs
    ``find_unused_parameters=True`` while the fusion net does not::

        model_wrapper_cfg = dict(
            type='mmfusion.FusionSeparateDDP',
            child_kwargs=dict(task=dict(find_unused_parameters=True)))

    Why separate wrappers: in a bi-level step the sub-networks are updated at
    different times, by different losses, some of them through
    ``torch.func.functional_call`` (which bypasses DDP). Algorithms forward a
    child through its wrapper only when that forward's output is
    back-propagated into the child, so each wrapper's gradient all-reduce
    fires exactly for the gradients that are applied.
    """

    def __init__(self,
                 module: nn.Module,
                 broadcast_buffers: bool = False,
                 find_unused_parameters: bool = False,
                 child_kwargs: Optional[dict] = None,
                 **kwargs):
        nn.Module.__init__(self)
        self.module = module
        child_kwargs = dict(child_kwargs or {})
        unknown = set(child_kwargs) - set(module._modules)
        if unknown:
            raise KeyError(f'child_kwargs names {sorted(unknown)}, which are '
                           f'not children of {type(module).__name__}')
        device = get_device()
        for name, sub_module in module._modules.items():
            sub_module = sub_module.to(device)
            if any(p.requires_grad for p in sub_module.parameters()):
                ddp_kwargs = dict(
                    broadcast_buffers=broadcast_buffers,
                    find_unused_parameters=find_unused_parameters,
                    **kwargs)
                ddp_kwargs.update(child_kwargs.get(name, {}))
                if device == 'cpu':  # no CUDA device_ids for CPU modules
                    ddp_kwargs['device_ids'] = None
                    ddp_kwargs.pop('output_device', None)
                sub_module = MMDistributedDataParallel(
                    module=sub_module, **ddp_kwargs)
            module._modules[name] = sub_module
