# Copyright (c) mmfusion contributors. All rights reserved.
"""Fusion-only tools import no task package: tools/fuse.py and
tools/analysis_tools/eval_fused.py, each run on one real MSRS pair in a
fresh interpreter, finish without importing mmseg or mmdet (and
eval_fused.py without importing mmengine or mmcv at all)."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import save_checkpoint

from mmfusion.registry import MODELS

DEMO = 'configs/seafusion/seafusion_content_demo.py'
NAME = '00927N.png'

# runs a tool as ``python TOOL ARGS`` would, then reports the exit status,
# the task packages, the mmengine sub-packages in sys.modules and whether the
# fusion visualizer was imported
_RUN = '''
import json, runpy, sys
sys.argv = {argv!r}
code = 0
try:
    runpy.run_path(sys.argv[0], run_name='__main__')
except SystemExit as e:
    code = e.code or 0
print('RESULT ' + json.dumps(dict(code=code, task_modules=sorted(
    m for m in sys.modules if m.split('.')[0] in ('mmseg', 'mmdet')),
    mmengine=sorted(set('.'.join(m.split('.')[:2]) for m in sys.modules
                        if m.startswith('mmengine.'))),
    visualizer='mmfusion.visualization.fusion_visualizer' in sys.modules,
    openmmlab=sorted(p for p in ('mmcv', 'mmengine') if p in sys.modules))))
'''


def _run(repo_root, argv):
    res = subprocess.run(
        [sys.executable, '-c', _RUN.format(argv=argv)],
        capture_output=True,
        text=True,
        cwd=repo_root)
    lines = [x for x in res.stdout.splitlines() if x.startswith('RESULT ')]
    assert res.returncode == 0 and lines, res.stdout[-2000:] + \
        res.stderr[-3000:]
    return json.loads(lines[-1][len('RESULT '):])


@pytest.fixture(scope='module')
def one_pair(msrs_mini, tmp_path_factory):
    tmp = tmp_path_factory.mktemp('one_pair')
    for modality in ('ir', 'vi'):
        os.makedirs(tmp / modality)
        os.symlink(
            osp.join(msrs_mini, 'test', modality, NAME), tmp / modality / NAME)
    return tmp


@pytest.mark.parametrize('grids', [False, True])
@pytest.mark.slow
def test_fuse_imports_no_task_package(repo_root, one_pair, tmp_path, grids):
    """Nor the fusion visualizer, unless grids are asked for
    (``--vis-dir``)."""
    init_default_scope('mmfusion')
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(osp.join(repo_root, DEMO)).model)
    ckpt = str(tmp_path / 'demo.pth')
    save_checkpoint({'state_dict': model.state_dict()}, ckpt)
    out = tmp_path / 'fused'
    result = _run(repo_root, [
        osp.join(repo_root, 'tools', 'fuse.py'), DEMO, ckpt, '--ir',
        str(one_pair / 'ir'), '--vi',
        str(one_pair / 'vi'), '--out',
        str(out), '--no-progress', '--backend', 'pytorch'
    ] + (['--vis-dir', str(tmp_path / 'grids')] if grids else []))
    assert result['code'] == 0 and result['task_modules'] == []
    assert os.listdir(out) == [NAME]
    assert result['visualizer'] is grids
    assert osp.isfile(tmp_path / 'grids' / NAME) is grids


def test_eval_fused_imports_no_task_package(repo_root, one_pair, tmp_path):
    out = tmp_path / 'report'
    result = _run(repo_root, [
        osp.join(repo_root, 'tools', 'analysis_tools', 'eval_fused.py'),
        '--fused', f'VIS={one_pair / "vi"}', '--ir',
        str(one_pair / 'ir'), '--vi',
        str(one_pair / 'vi'), '--out-dir',
        str(out), '--no-progress'
    ])
    assert result['code'] == 0 and result['task_modules'] == []
    # nor mmengine or mmcv at all (~0.3 s): scoring and plotting need
    # neither (the progress bar, off here, is mmengine's)
    assert result['openmmlab'] == [] and result['mmengine'] == [], result
    assert (out / 'summary.md').is_file() and (out / 'plots').is_dir()


def test_the_check_sees_a_task_import(repo_root, tmp_path):
    """The subprocess check itself: a script importing mmseg is caught."""
    script = tmp_path / 'uses_mmseg.py'
    script.write_text('import mmseg.registry\n')
    result = _run(repo_root, [str(script)])
    assert 'mmseg.registry' in result['task_modules']
