# Copyright (c) mmfusion contributors. All rights reserved.
"""mmfusion: task-driven infrared/visible image fusion on OpenMMLab 2.x."""
import mmcv
import mmengine
from mmengine.utils import digit_version

from .version import (MM_REQUIREMENTS, __version__, check_mm_version,
                      version_info)

# (the ranges live in version.py; these names as in mmseg/mmdet)
MMCV_MIN, MMCV_MAX = MM_REQUIREMENTS['mmcv']
MMENGINE_MIN, MMENGINE_MAX = MM_REQUIREMENTS['mmengine']

check_mm_version('mmcv', mmcv.__version__)
check_mm_version('mmengine', mmengine.__version__)

# Make the pinned stack work on recent torch before anything loads a
# checkpoint (see mmfusion/utils/compat.py for what is patched and why); each
# patch is applied when the mmengine module it patches is first imported.
from .utils.compat import install_compat_patches  # noqa: E402

install_compat_patches()

__all__ = ['__version__', 'version_info', 'digit_version', 'MM_REQUIREMENTS']
