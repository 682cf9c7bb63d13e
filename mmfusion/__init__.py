# Copyright (c) mmfusion contributors. All rights reserved.
"""mmfusion: task-driven infrared/visible image fusion on OpenMMLab 2.x.

Importing it changes nothing outside mmfusion (see docs/compat.md): the
fixes the pinned stack needs are components its configs select.
"""
import sys

from .version import (MM_REQUIREMENTS, __version__, check_mm_version,
                      version_info)

# (the ranges live in version.py; these names as in mmseg/mmdet)
MMCV_MIN, MMCV_MAX = MM_REQUIREMENTS['mmcv']
MMENGINE_MIN, MMENGINE_MAX = MM_REQUIREMENTS['mmengine']


def _check_installed(package: str) -> None:
    """The version of ``package`` against MM_REQUIREMENTS: the imported
    module's, else the installed distribution's (read without importing it:
    a tool that never uses mmcv/mmengine, eval_fused.py, does not pay ~0.3 s
    for them); not installed is left to the import that needs it."""
    from importlib import metadata
    module = sys.modules.get(package)
    try:
        installed = module.__version__ if module is not None else \
            metadata.version(package)
    except (metadata.PackageNotFoundError, AttributeError):
        return
    try:
        from packaging.version import Version
        low, high = MM_REQUIREMENTS[package]
        if Version(low) <= Version(installed) < Version(high):
            return
    except Exception:  # (packaging missing, or a version it cannot parse)
        pass
    check_mm_version(package, installed)  # raises with the message


for _package in ('mmengine', 'mmcv'):
    _check_installed(_package)
del _package

from .utils.compat import check_pkg_resources  # noqa: E402

check_pkg_resources()


def __getattr__(name: str):
    if name == 'digit_version':  # mmengine's, as before (imports mmengine)
        from mmengine.utils import digit_version
        return digit_version
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


__all__ = ['__version__', 'version_info', 'digit_version', 'MM_REQUIREMENTS']
