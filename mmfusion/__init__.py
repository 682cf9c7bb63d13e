# Copyright (c) mmfusion contributors. All rights reserved.
"""mmfusion: task-driven infrared/visible image fusion on OpenMMLab 2.x."""
import mmcv
import mmengine
from mmengine.utils import digit_version

from .version import __version__, version_info

MMCV_MIN = '2.0.0rc4'
MMCV_MAX = '2.2.0'
MMENGINE_MIN = '0.10.0'
MMENGINE_MAX = '1.0.0'


def _check(name: str, installed: str, low: str, high: str) -> None:
    if not digit_version(low) <= digit_version(installed) < digit_version(high):
        raise AssertionError(
            f'{name}=={installed} is used but incompatible with mmfusion '
            f'{__version__}. Please install {name}>={low}, <{high} '
            '(`bash tools/install.sh` installs the tested stack).')


_check('mmcv', mmcv.__version__, MMCV_MIN, MMCV_MAX)
_check('mmengine', mmengine.__version__, MMENGINE_MIN, MMENGINE_MAX)

# Make the pinned stack work on recent torch before anything loads a
# checkpoint (see mmfusion/utils/compat.py for what is patched and why).
from .utils.compat import apply_compat_patches  # noqa: E402

apply_compat_patches()

__all__ = ['__version__', 'version_info', 'digit_version']
