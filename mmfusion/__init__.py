# Copyright (c) mmfusion contributors. All rights reserved.
"""mmfusion: task-driven infrared/visible image fusion on OpenMMLab 2.x."""
import sys

from .version import (MM_REQUIREMENTS, __version__, check_mm_version,
                      version_info)

# (the ranges live in version.py; these names as in mmseg/mmdet)
MMCV_MIN, MMCV_MAX = MM_REQUIREMENTS['mmcv']
MMENGINE_MIN, MMENGINE_MAX = MM_REQUIREMENTS['mmengine']

# Make the pinned stack work on recent torch before anything loads a
# checkpoint (see mmfusion/utils/compat.py for what is patched and why); each
# patch is applied when the mmengine module it patches is first imported.
from .utils.compat import install_compat_patches, when_imported  # noqa: E402

install_compat_patches()


def _check_installed(package: str) -> None:
    check_mm_version(package, sys.modules[package].__version__)


# mmcv and mmengine are checked when they are first imported (at once if
# they already are): importing them costs ~0.3 s that a tool which never uses
# them (tools/analysis_tools/eval_fused.py) need not pay
for _package in ('mmengine', 'mmcv'):
    when_imported(_package, lambda p=_package: _check_installed(p))
del _package


def __getattr__(name: str):
    if name == 'digit_version':  # mmengine's, as before (imports mmengine)
        from mmengine.utils import digit_version
        return digit_version
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


__all__ = ['__version__', 'version_info', 'digit_version', 'MM_REQUIREMENTS']
