"""The supported OpenMMLab version ranges have one home
(mmfusion/version.py MM_REQUIREMENTS): the requirement file and the install
guide agree with it, and both checks (on import, at task build) use it."""
import os.path as osp
import re

import pytest

from mmfusion.version import (MM_REQUIREMENTS, check_mm_version,
                              mminstall_requirements)


def test_mminstall_txt_matches(repo_root):
    with open(osp.join(repo_root, 'requirements', 'mminstall.txt')) as f:
        lines = [
            ln.strip() for ln in f if ln.strip() and not ln.startswith('#')
        ]
    assert lines == mminstall_requirements(), (
        'requirements/mminstall.txt differs from MM_REQUIREMENTS in '
        'mmfusion/version.py; write it as mminstall_requirements() lists')


def test_install_guide_matches(repo_root):
    with open(osp.join(repo_root, 'docs', 'install.md')) as f:
        text = ' '.join(f.read().split())
    for name, (low, high) in MM_REQUIREMENTS.items():
        assert re.search(
            rf'{name} in \[{re.escape(low)}, '
            rf'{re.escape(high)}\)|{name} \[{re.escape(low)}, '
            rf'{re.escape(high)}\)', text), name


@pytest.mark.parametrize('package', ['mmcv', 'mmengine', 'mmseg', 'mmdet'])
def test_checks_use_the_ranges(package):
    check_mm_version(package)  # the installed stack is supported
    dist = 'mmsegmentation' if package == 'mmseg' else package
    low, high = MM_REQUIREMENTS[dist]
    check_mm_version(package, low)
    with pytest.raises(
            AssertionError,
            match=rf'{dist}=={high} is used but '
            rf'mmfusion .* supports {dist}>={re.escape(low)}, '
            rf'<{high}'):
        check_mm_version(package, high)


def test_task_adapter_checks_through_it(monkeypatch):
    from mmfusion.models.task_adapters import task_adapter
    monkeypatch.setitem(MM_REQUIREMENTS, 'mmdet', ('0.0.1', '0.0.2'))
    with pytest.raises(AssertionError, match='mmdet=='):
        task_adapter._check_package_versions('mmdet')
    task_adapter._check_package_versions('mmpretrain')  # not checked


def test_import_checks_mmcv_and_mmengine_without_importing_them():
    """``import mmfusion`` imports neither mmcv nor mmengine (a tool that
    never uses them does not pay ~0.3 s for them): it checks their installed
    distributions against MM_REQUIREMENTS, and installs no import hook
    (importing mmcv afterwards is mmcv's own import)."""
    import subprocess
    import sys
    code = '\n'.join([
        'import sys', 'hooks = list(sys.meta_path)', 'import mmfusion',
        "print(sorted(p for p in ('mmcv', 'mmengine') if p in sys.modules))",
        "mmfusion.version.MM_REQUIREMENTS['mmcv'] = ('0.0.1', '0.0.2')",
        'try:', "    mmfusion._check_installed('mmcv')",
        'except AssertionError as e:', '    print(e)', 'import mmcv',
        'import mmengine', 'print(sys.meta_path == hooks and '
        'mmfusion.digit_version(mmengine.__version__) > (0, ))'
    ])
    res = subprocess.run([sys.executable, '-c', code],
                         capture_output=True,
                         text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    lines = res.stdout.splitlines()
    assert lines[0] == '[]'
    assert re.match(
        r'mmcv==\S+ is used but mmfusion .* supports '
        r'mmcv>=0\.0\.1, <0\.0\.2', lines[1]), lines
    assert lines[2] == 'True'
