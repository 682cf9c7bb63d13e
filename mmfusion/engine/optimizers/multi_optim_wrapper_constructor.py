# Copyright (c) mmfusion contributors. All rights reserved.
import copy
from typing import Optional

import torch.nn as nn
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapperDict

from mmfusion.registry import OPTIM_WRAPPER_CONSTRUCTORS


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class MultiOptimWrapperConstructor:
    """One optimiser wrapper per sub-network of a fusion algorithm.

    ``optim_wrapper`` maps the names of the algorithm's children to ordinary
    mmengine optimiser-wrapper configs (each may carry its own
    ``paramwise_cfg`` and ``constructor``)::

        optim_wrapper = dict(
            constructor='MultiOptimWrapperConstructor',
            fusion_net=dict(optimizer=dict(type='Adam', lr=1e-4)),
            loss_generator=dict(optimizer=dict(type='MaxAbsNormSGD', lr=1e-4)),
            task=dict(optimizer=dict(type='Adam', lr=1e-4)))

    The result is an :class:`OptimWrapperDict` with the same keys;
    ``param_scheduler`` may then be a dict with those keys too. Children
    wrapped in DDP are unwrapped first, so paramwise keys see the plain
    parameter names.
    """

    def __init__(self,
                 optim_wrapper_cfg: dict,
                 paramwise_cfg: Optional[dict] = None):
        if not isinstance(optim_wrapper_cfg, dict):
            raise TypeError('optim_wrapper_cfg should be a dict, got '
                            f'{type(optim_wrapper_cfg)}')
        if paramwise_cfg is not None:
            raise ValueError('give paramwise_cfg inside each sub-network\'s '
                             'optim_wrapper config, not at the top level')
        self.optim_wrapper_cfg = copy.deepcopy(optim_wrapper_cfg)

    def __call__(self, model: nn.Module) -> OptimWrapperDict:
        if is_model_wrapper(model):
            model = model.module
        wrappers = {}
        for name, cfg in self.optim_wrapper_cfg.items():
            if not hasattr(model, name):
                children = [n for n, _ in model.named_children()]
                raise KeyError(
                    f'optim_wrapper has a config for {name!r} but the model '
                    f'({type(model).__name__}) has no such sub-network; its '
                    f'children are {children}')
            module = getattr(model, name)
            if is_model_wrapper(module):
                module = module.module
            cfg = copy.deepcopy(cfg)
            constructor_type = cfg.pop('constructor',
                                       'DefaultOptimWrapperConstructor')
            paramwise_cfg = cfg.pop('paramwise_cfg', None)
            constructor = OPTIM_WRAPPER_CONSTRUCTORS.build(
                dict(
                    type=constructor_type,
                    optim_wrapper_cfg=cfg,
                    paramwise_cfg=paramwise_cfg))
            wrappers[name] = constructor(module)
        return OptimWrapperDict(**wrappers)
