# Copyright (c) mmfusion contributors. All rights reserved.
from typing import List, Optional, Union

import torch.nn as nn
from mmengine.optim import DefaultOptimWrapperConstructor

from mmfusion.registry import OPTIM_WRAPPER_CONSTRUCTORS


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class DecayRulesOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """mmengine's default constructor, except that the weight-decay rules of
    ``paramwise_cfg`` (``norm_decay_mult``, ``bias_decay_mult``,
    ``dwconv_decay_mult``, ``flat_decay_mult``) also apply to parameters
    matched by a ``custom_keys`` entry, unless that entry sets
    ``decay_mult`` itself.

    mmengine lets a custom key replace every other rule, so
    ``custom_keys=dict(decode_head=dict(lr_mult=10.))`` with
    ``norm_decay_mult=0.`` would still decay the head's norm and bias
    parameters. SeAFusion's segmenter optimiser (its ``optimizer.py`` and
    ``model_TII.py``'s ``get_params``) exempts every norm and bias parameter
    from weight decay, heads included, and gives the heads 10x the lr::

        task=dict(
            constructor='DecayRulesOptimWrapperConstructor',
            optimizer=dict(type='SGD', lr=1e-2, momentum=0.9,
                           weight_decay=5e-4),
            paramwise_cfg=dict(
                norm_decay_mult=0., bias_decay_mult=0.,
                custom_keys=dict(decode_head=dict(lr_mult=10.))))
    """

    def add_params(self,
                   params: List[dict],
                   module: nn.Module,
                   prefix: str = '',
                   is_dcn_module: Optional[Union[int, float]] = None) -> None:
        if prefix:  # the default implementation's recursion into children
            super().add_params(params, module, prefix, is_dcn_module)
            return
        start = len(params)
        super().add_params(params, module, prefix, is_dcn_module)
        if not self.paramwise_cfg.get('custom_keys'):
            return
        # the rules alone, without the custom keys: each parameter's
        # weight decay where a rule gives one
        with_keys = self.paramwise_cfg
        self.paramwise_cfg = {
            k: v
            for k, v in with_keys.items() if k != 'custom_keys'
        }
        policy: List[dict] = []
        try:
            super().add_params(policy, module, prefix, is_dcn_module)
        finally:
            self.paramwise_cfg = with_keys
        decay = {
            id(group['params'][0]): group['weight_decay']
            for group in policy if 'weight_decay' in group
        }
        for group in params[start:]:
            key = id(group['params'][0])
            if key in decay and 'decay_mult' not in group:
                group['weight_decay'] = decay[key]
