# Copyright (c) mmfusion contributors. All rights reserved.
from .amp import CPUAmpOptimWrapper, enable_amp
from .decay_rules_constructor import DecayRulesOptimWrapperConstructor
from .max_abs_norm_sgd import MaxAbsNormSGD
from .multi_optim_wrapper_constructor import MultiOptimWrapperConstructor

__all__ = [
    'CPUAmpOptimWrapper', 'DecayRulesOptimWrapperConstructor', 'MaxAbsNormSGD',
    'MultiOptimWrapperConstructor', 'enable_amp'
]
