# Copyright (c) mmfusion contributors. All rights reserved.
from .amp import CPUAmpOptimWrapper, enable_amp
from .max_abs_norm_sgd import MaxAbsNormSGD
from .multi_optim_wrapper_constructor import MultiOptimWrapperConstructor

__all__ = [
    'CPUAmpOptimWrapper', 'MaxAbsNormSGD', 'MultiOptimWrapperConstructor',
    'enable_amp'
]
