# Copyright (c) mmfusion contributors. All rights reserved.
"""Automatic mixed precision for the algorithms' per-network optimisers.

``tools/train.py --amp`` calls :func:`enable_amp`: every sub-network's
wrapper (``optim_wrapper.fusion_net``, ``.task``, ``.loss_generator``,
``.discriminator``) becomes an AMP wrapper. Which computations run under
autocast is decided by each algorithm (``FusionModel.guarded_update`` runs a
step's forward inside its wrapper's ``optim_context``); see
docs/training.md.
"""
import copy
import logging
from typing import Optional

import torch
from mmengine.device import (is_cuda_available, is_mlu_available,
                             is_musa_available, is_npu_available)
from mmengine.logging import print_log
from mmengine.optim import AmpOptimWrapper, OptimWrapper

from mmfusion.registry import OPTIM_WRAPPERS

AMP_TYPES = ('AmpOptimWrapper', 'CPUAmpOptimWrapper')


def amp_device_available() -> bool:
    """Whether mmengine's ``AmpOptimWrapper`` can be built here."""
    return (is_cuda_available() or is_npu_available() or is_mlu_available()
            or is_musa_available())


@OPTIM_WRAPPERS.register_module()
class CPUAmpOptimWrapper(AmpOptimWrapper):
    """``AmpOptimWrapper`` for machines without an accelerator: bfloat16
    autocast on the CPU, no loss scaling (bfloat16 has float32's exponent
    range, so gradients neither underflow nor need a scale).

    mmengine's ``AmpOptimWrapper`` refuses to be built without a GPU (NPU,
    MLU, MUSA). This wrapper lets ``--amp`` run (and be tested) on a CPU;
    on CPUs with bfloat16 units (AVX512-BF16, AMX) it is also faster. Only
    ``dtype='bfloat16'`` is supported (CPU autocast's only reduced type).
    """

    def __init__(self, dtype='bfloat16', loss_scale='dynamic', **kwargs):
        if dtype not in ('bfloat16', torch.bfloat16):
            raise ValueError('CPU autocast supports bfloat16 only, got '
                             f'dtype={dtype!r}')
        OptimWrapper.__init__(self, **kwargs)
        self._scale_update_param = None
        self.loss_scaler = torch.amp.GradScaler('cpu', enabled=False)
        self.cast_dtype = torch.bfloat16


def _is_amp(cfg: dict) -> bool:
    return cfg.get('type', 'OptimWrapper') in AMP_TYPES


def _to_amp(cfg: dict, dtype: Optional[str], name: str) -> None:
    wrapper = cfg.get('type', 'OptimWrapper')
    if wrapper in AMP_TYPES:
        print_log(
            f'AMP is already enabled for {name} in the config.',
            logger='current',
            level=logging.WARNING)
        return
    if wrapper != 'OptimWrapper':
        raise ValueError(
            f'--amp works on OptimWrapper configs, but {name} has '
            f'type={wrapper!r}')
    if amp_device_available():
        cfg['type'] = 'AmpOptimWrapper'
        cfg['loss_scale'] = 'dynamic'
        if dtype is not None:
            cfg['dtype'] = dtype
    else:
        cfg['type'] = 'CPUAmpOptimWrapper'
        cfg['dtype'] = 'bfloat16'


def enable_amp(optim_wrapper: dict, dtype: Optional[str] = None) -> dict:
    """The ``optim_wrapper`` config with AMP wrappers.

    A per-network config (``constructor='MultiOptimWrapperConstructor'``,
    one ordinary wrapper config per sub-network) gets AMP in every
    sub-network's wrapper; a plain config at the top level.

    On a GPU (NPU, MLU, MUSA) the wrappers are mmengine's
    ``AmpOptimWrapper`` with dynamic loss scaling and ``dtype``
    (``'float16'``, mmengine's default, or ``'bfloat16'``). Without one,
    :class:`CPUAmpOptimWrapper` (bfloat16, no loss scale), with a log line
    saying so; a ``dtype='float16'`` request raises there.
    """
    if dtype not in (None, 'float16', 'bfloat16'):
        raise ValueError(f"AMP dtype must be 'float16' or 'bfloat16', got "
                         f'{dtype!r}')
    if not amp_device_available():
        if dtype == 'float16':
            raise ValueError(
                'no GPU: float16 autocast needs one; on the CPU --amp runs '
                'bfloat16 autocast (--amp-dtype bfloat16)')
        print_log(
            'no CUDA device: --amp trains with bfloat16 autocast on the CPU '
            '(CPUAmpOptimWrapper, no loss scaling)',
            logger='current',
            level=logging.WARNING)
    cfg = copy.deepcopy(optim_wrapper)
    constructor = cfg.get('constructor', 'DefaultOptimWrapperConstructor')
    if constructor == 'MultiOptimWrapperConstructor':
        for name, sub in cfg.items():
            if name != 'constructor':
                _to_amp(sub, dtype, f'optim_wrapper.{name}')
    else:
        _to_amp(cfg, dtype, 'optim_wrapper')
    return cfg
