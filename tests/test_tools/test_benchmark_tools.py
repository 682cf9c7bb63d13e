# Copyright (c) mmfusion contributors. All rights reserved.
"""The speed tools run and report what they measure (not the speed: a
benchmark's figures belong in its output, not in a unit test)."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest


def _run(repo_root, *args, timeout=600):
    res = subprocess.run([sys.executable, *args],
                         cwd=repo_root,
                         capture_output=True,
                         text=True,
                         timeout=timeout)
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout


@pytest.mark.slow
def test_benchmark_inference_paths(repo_root, tmp_path):
    # ONNX Runtime, the default backend, is installed by tools/install.sh:
    # its paths are measured unless MMFUSION_NO_ONNX=1 opts out
    paths = ['eager', 'channels_last', 'eager_b2', 'bf16']
    if os.environ.get('MMFUSION_NO_ONNX') != '1':
        from mmfusion.apis.inference_backends import missing_onnx_packages
        assert not missing_onnx_packages(), (
            f'{missing_onnx_packages()} not installed: `bash tools/'
            'install.sh` installs ONNX Runtime (MMFUSION_NO_ONNX=1 skips it)')
        paths += ['onnxruntime', 'onnxruntime_b2']
    out = tmp_path / 'paths.json'
    stdout = _run(repo_root, 'tools/analysis_tools/benchmark.py',
                  'configs/seafusion/seafusion_msrs.py', '--shape', '24', '32',
                  '--threads', '1', '--no-compile', '--repeats', '1',
                  '--warmup', '1', '--paths', *paths, '--out', str(out))
    assert 'inference paths of fusion_net' in stdout
    rows = {r['path']: r for r in json.loads(out.read_text())[0]['paths']}
    assert sorted(rows) == sorted(paths)
    for name, row in rows.items():
        assert row['s_per_pair'] > 0
        if name != 'bf16':  # fp32 paths: the eager output
            assert row['max_abs_diff'] < 1e-5, (name, row)
    assert rows['bf16']['max_abs_diff'] > 0  # bf16 does move the image


@pytest.mark.slow
def test_gpu_check_dry_run_ops_in_child_processes(repo_root, tmp_path):
    """Without CUDA the tool says so and checks mmcv's ops on the CPU, each
    part in a child process (a crashing op is reported, not fatal)."""
    pytest.importorskip('mmcv.ops')
    stdout = _run(repo_root, '.dev_scripts/gpu_check.py', '--out',
                  str(tmp_path), '--skip', 'train', 'probe', 'fps')
    report = json.loads((tmp_path / 'gpu_check.json').read_text())
    if report['device'] == 'cpu':
        assert 'no CUDA device' in stdout
    assert report['ops']['cpu'] == 'ok', report['ops']
    assert 'compiler' in report['ops'], report['ops']
    assert osp.isfile(tmp_path / 'gpu_check.json')


def test_benchmark_fuse_contenders_fuse_the_same_pairs(repo_root, tmp_path):
    """The plain loop pairs identical file names, fuse.py mmfusion's rule
    (name without extension): benchmark_fuse refuses folders where the two
    would fuse different pairs, naming the difference."""
    import shutil
    sys.path.insert(0, osp.join(repo_root, 'tools', 'analysis_tools'))
    try:
        import benchmark_fuse
    finally:
        sys.path.pop(0)
    test = osp.join(repo_root, 'data', 'msrs_demo', 'test')
    n = benchmark_fuse.same_pairs(osp.join(test, 'ir'), osp.join(test, 'vi'))
    assert n == 4
    ir, vi = tmp_path / 'ir', tmp_path / 'vi'
    shutil.copytree(osp.join(test, 'ir'), ir)
    shutil.copytree(osp.join(test, 'vi'), vi)
    first = sorted(vi.iterdir())[0]
    first.rename(first.with_suffix('.jpg'))  # same name, other extension
    with pytest.raises(SystemExit, match='they differ on'):
        benchmark_fuse.same_pairs(str(ir), str(vi))
