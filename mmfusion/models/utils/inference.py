# Copyright (c) mmfusion contributors. All rights reserved.
"""A compiled inference path for the fusion nets.

The fusion nets are stride-1, full-resolution CNNs: at 640x480 a large part of
an eager forward goes to memory-bound element-wise work (activations,
``torch.cat`` of dense blocks, ``abs`` of the Sobel branch) between the
convolutions. ``torch.compile`` fuses that work into a few generated kernels
around the (unchanged) convolution calls, which makes SeAFusion's forward about
2x faster on CPU with the same output (float rounding, ~1e-7).

Nets that inherit :class:`CompiledInferenceMixin` and are built with
``compile_inference=True`` run their ``_forward`` through ``torch.compile``
whenever autograd is off (``torch.no_grad()`` / ``torch.inference_mode()``,
i.e. validation, testing, the inferencer, benchmarks). Training forwards,
``torch.func.functional_call`` with gradients and double backward always take
the eager path. Parameters are graph inputs (no freezing), so weights updated
by training are always used. The first call compiles (tens of seconds on a
small CPU; cached on disk by PyTorch afterwards); every new input size
recompiles until PyTorch switches to dynamic shapes. If compilation is not
possible (e.g. no C++ compiler), the net warns once and stays eager.
"""
import warnings
from typing import Callable, Dict

import torch

# one compiled function per class (compiled from the unbound ``_forward``, so
# no reference to any instance is kept); ``None`` marks a failed compile
_COMPILED: Dict[type, Callable] = {}


def compiled_call(cls: type, module: torch.nn.Module, *args):
    """``cls._forward(module, *args)`` through ``torch.compile``; falls back
    to eager (and stays eager for ``cls``) if compiling fails."""
    fn = _COMPILED.get(cls, False)
    if fn is False:
        fn = torch.compile(cls._forward)
        _COMPILED[cls] = fn
    if fn is None:
        return cls._forward(module, *args)
    try:
        return fn(module, *args)
    except Exception as e:  # a compiler/toolchain problem, or bad input
        out = cls._forward(module, *args)  # bad input re-raises here
        _COMPILED[cls] = None
        warnings.warn(f'{cls.__name__}: torch.compile failed ({e!r:.300}); '
                      'inference continues eagerly. Set '
                      'compile_inference=False to silence this.')
        return out


class CompiledInferenceMixin:
    """Route no-grad forwards through ``torch.compile`` when
    ``self.compile_inference`` is true. Subclasses implement ``_forward``
    and call :meth:`_dispatch` from ``forward``."""

    compile_inference: bool = False

    def _dispatch(self, *args):
        if self.compile_inference and not torch.is_grad_enabled():
            return compiled_call(type(self), self, *args)
        return self._forward(*args)
