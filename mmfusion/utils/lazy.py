# Copyright (c) mmfusion contributors. All rights reserved.
"""Names of a package imported on first use (PEP 562), so that importing
the package does not import what only some of its users need (mmseg,
mmdet, mmengine's visualizer)::

    from mmfusion.utils.lazy import lazy_module_attrs

    # name -> submodule (relative to this package), imported on first use
    _LAZY = {'FusionInferencer': 'fusion_inferencer'}
    __getattr__, __dir__ = lazy_module_attrs(__name__, _LAZY)
"""
import importlib
import sys
from typing import Callable, List, Mapping, Tuple

__all__ = ['lazy_module_attrs']


def lazy_module_attrs(
        module_name: str,
        mapping: Mapping[str, str]) -> Tuple[Callable, Callable[[], List]]:
    """The module-level ``__getattr__`` and ``__dir__`` of the module
    ``module_name`` (pass ``__name__``) for the names of ``mapping`` (name
    -> submodule, relative to the module).

    ``__getattr__(name)`` imports the submodule on the first access of
    ``name``, caches the attribute in the module (later accesses do not
    call it again) and returns it; any other name raises
    :class:`AttributeError` naming the module. ``__dir__()`` lists the
    module's attributes and the lazy names."""
    mapping = dict(mapping)

    def __getattr__(name: str):
        if name in mapping:
            value = getattr(
                importlib.import_module(f'.{mapping[name]}', module_name),
                name)
            setattr(sys.modules[module_name], name, value)
            return value
        raise AttributeError(
            f'module {module_name!r} has no attribute {name!r}')

    def __dir__() -> List[str]:
        return sorted(set(vars(sys.modules[module_name])) | set(mapping))

    return __getattr__, __dir__
