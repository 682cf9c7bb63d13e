"""tools/analysis_tools/benchmark_meta_step.py end to end at toy sizes: every
TDFusion hypergrad mode, interleaved, with per-phase time and peak memory."""
import json
import os.path as osp
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_benchmark_meta_step_compares_modes(repo_root, msrs_mini, tmp_path):
    out = tmp_path / 'bm.json'
    cmd = [
        sys.executable,
        osp.join(repo_root, 'tools/analysis_tools/benchmark_meta_step.py'),
        osp.join(repo_root,
                 'configs/tdfusion/tdfusion_demo.py'), '--crop', '32', '32',
        '--task-size', '32', '32', '--iters', '1', '--threads', '1', '--modes',
        'jvp', 'jvp+keep', 'full_backward', '--data-root', msrs_mini, '--out',
        str(out)
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=repo_root)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert 'jvp t' in proc.stdout and 'load average' in proc.stdout
    res = json.loads(out.read_text())
    r = res['results']
    assert set(r) == {'jvp', 'jvp+keep', 'full_backward', 'fusion'}
    assert res['threads'] == 1 and res['crop'] == [32, 32]
    for mode in ('jvp', 'jvp+keep'):
        assert set(r[mode]['phases']) == {
            'views', 'virtual step', 'task step', 'outer forward',
            'outer backward', 'hypergradient', 'restore'
        }
    assert 'hypergradient' not in r['full_backward']['phases']
    assert set(
        r['fusion']['phases']) == {'views', 'fusion update', 'task update'}
    for kind in r.values():
        assert kind['seconds'] > 0 and kind['peak_mb'] > 0
