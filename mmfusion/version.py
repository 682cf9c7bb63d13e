# Copyright (c) mmfusion contributors. All rights reserved.
__version__ = '0.1.0'


def parse_version_info(version_str: str) -> tuple:
    """Parse a version string such as ``'0.1.0'`` or ``'0.1.0rc1'``."""
    info = []
    for x in version_str.split('.'):
        if x.isdigit():
            info.append(int(x))
        elif 'rc' in x:
            major, rc = x.split('rc')
            info.extend([int(major), f'rc{rc}'])
    return tuple(info)


version_info = parse_version_info(__version__)

# The OpenMMLab packages mmfusion supports, [low, high) by distribution name:
# the one home of these ranges. mmcv and mmengine are checked on
# ``import mmfusion``, mmsegmentation and mmdet when a task model of theirs is
# first built (:func:`check_mm_version`); requirements/mminstall.txt and
# docs/install.md list the same ranges (tests/test_utils/test_versions.py
# checks both). No imports here: setup.py executes this file.
MM_REQUIREMENTS = {
    'mmcv': ('2.0.0rc4', '2.2.0'),
    'mmdet': ('3.0.0', '3.4.0'),
    'mmengine': ('0.10.0', '1.0.0'),
    'mmsegmentation': ('1.0.0', '1.3.0'),
}
# import name -> distribution name, where they differ
_DISTRIBUTIONS = {'mmseg': 'mmsegmentation'}


def mminstall_requirements() -> list:
    """The lines of requirements/mminstall.txt (``name>=low,<high``)."""
    return [
        f'{name}>={low},<{high}'
        for name, (low, high) in sorted(MM_REQUIREMENTS.items())
    ]


def check_mm_version(package: str, installed: str = None) -> None:
    """Raise ``AssertionError`` (with what to install) unless the installed
    version of ``package`` (an import or distribution name in
    :data:`MM_REQUIREMENTS`) is in its supported range. ``installed``:
    the version to check instead of the installed distribution's."""
    from importlib import metadata

    from mmengine.utils import digit_version
    dist = _DISTRIBUTIONS.get(package, package)
    low, high = MM_REQUIREMENTS[dist]
    if installed is None:
        installed = metadata.version(dist)
    if not digit_version(low) <= digit_version(installed) < \
            digit_version(high):
        raise AssertionError(
            f'{dist}=={installed} is used but mmfusion {__version__} '
            f'supports {dist}>={low}, <{high}; `bash tools/install.sh` '
            'installs the tested stack.')
