# Copyright (c) mmfusion contributors. All rights reserved.
"""tools/fuse.py on a folder of real pairs."""
import importlib.util
import os
import os.path as osp
import shutil

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import save_checkpoint

from mmfusion.registry import MODELS

DEMO = 'configs/seafusion/seafusion_content_demo.py'


def _tool(repo_root):
    spec = importlib.util.spec_from_file_location(
        'fuse_tool', osp.join(repo_root, 'tools', 'fuse.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fuse_folder_gray_raw(repo_root, msrs_mini, tmp_path):
    init_default_scope('mmfusion')
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(osp.join(repo_root, DEMO)).model)
    ckpt = str(tmp_path / 'demo.pth')
    save_checkpoint({'state_dict': model.state_dict()}, ckpt)
    for modality in ('ir', 'vi'):
        os.makedirs(tmp_path / modality)
        os.symlink(
            osp.join(msrs_mini, 'test', modality, '00927N.png'),
            tmp_path / modality / '00927N.png')
    tool = _tool(repo_root)
    out = tmp_path / 'out'
    code = tool.main([
        osp.join(repo_root, DEMO), ckpt, '--ir',
        str(tmp_path / 'ir'), '--vi',
        str(tmp_path / 'vi'), '--out',
        str(out), '--colour', 'gray', '--norm', 'minmax', '--raw', 'npy',
        '--rounding', 'floor', '--no-progress'
    ])
    assert code == 0
    png = cv2.imread(str(out / '00927N.png'), cv2.IMREAD_UNCHANGED)
    assert png.shape == (480, 640) and png.max() == 255 and png.min() == 0
    raw = np.load(out / 'raw' / '00927N.npy')
    np.testing.assert_array_equal(
        np.floor(raw[..., 0] * 255 + 0).astype(np.uint8)[png < 255],
        png[png < 255])
    # a bad pair is a clear error naming the problem, exit status 2
    code = tool.main([
        osp.join(repo_root, DEMO), ckpt, '--ir',
        str(tmp_path / 'ir'), '--vi',
        osp.join(msrs_mini, 'test', 'vi', '00927N.png'), '--out',
        str(out)
    ])
    assert code == 2


def _narrow_demo(repo_root, tmp_path):
    """(config, checkpoint) of the demo's SeAFusion net, narrowed (the same
    inference path, the forward ~20x cheaper)."""
    init_default_scope('mmfusion')
    torch.manual_seed(0)
    config = str(tmp_path / 'narrow_demo.py')
    with open(config, 'w') as f:
        f.write(f"_base_ = [{osp.join(repo_root, DEMO)!r}]\n"
                "model = dict(fusion_net=dict(channels=(4, 8, 12)))\n")
    model = MODELS.build(Config.fromfile(config).model)
    ckpt = str(tmp_path / 'narrow.pth')
    save_checkpoint({'state_dict': model.state_dict()}, ckpt)
    return config, ckpt


def truncated_folder(msrs_mini, tmp_path, n=8):
    """A folder of ``n`` real MSRS pairs copied as a user would, one IR PNG
    cut to half its bytes (``head -c``). Returns (ir, vi, names, bad path,
    its original bytes)."""
    src = osp.join(msrs_mini, 'train')
    names = sorted(f[:-4] for f in os.listdir(osp.join(src, 'ir')))[:n]
    for modality in ('ir', 'vi'):
        os.makedirs(tmp_path / modality)
        for name in names:
            shutil.copy(
                osp.join(src, modality, name + '.png'), tmp_path / modality)
    bad = tmp_path / 'ir' / f'{names[3]}.png'
    data = bad.read_bytes()
    bad.write_bytes(data[:len(data) // 2])
    return str(tmp_path / 'ir'), str(tmp_path / 'vi'), names, str(bad), data


def test_fuse_folder_with_a_truncated_png(repo_root, msrs_mini, tmp_path,
                                          capsys, monkeypatch):
    """One truncated PNG among 8 pairs: the 7 others are fused, the file is
    named with the reason at the end (no advice about a dataset option that
    does not apply here), the exit status is 1; a rerun resumes (fuses
    nothing again, names the file again); fixed, the pair is fused."""
    monkeypatch.setenv('MMFUSION_CACHE', str(tmp_path / 'cache'))
    config, ckpt = _narrow_demo(repo_root, tmp_path)
    ir, vi, names, bad, data = truncated_folder(msrs_mini, tmp_path)
    out = tmp_path / 'out'
    tool = _tool(repo_root)
    args = [config, ckpt, '--ir', ir, '--vi', vi, '--out', str(out)]
    assert tool.main(args + ['--no-progress']) == 1
    res = capsys.readouterr()
    good = [n for n in names if n != names[3]]
    assert sorted(os.listdir(out)) == [n + '.png' for n in good]
    for name in good:
        assert cv2.imread(str(out / f'{name}.png')).shape == (480, 640, 3)
    assert 'fused 7 pair(s)' in res.out
    # the default backend ('auto') is the fast path: ONNX Runtime, which
    # tools/install.sh installs (MMFUSION_NO_ONNX=1 opts out explicitly)
    if os.environ.get('MMFUSION_NO_ONNX') != '1':
        assert 'backend: onnxruntime, fp32' in res.out, res.out
    assert '1 pair(s) could not be read' in res.err
    assert f'{names[3]}: cannot read IR image {bad}: truncated PNG' in res.err
    assert 'check_images' not in res.err + res.out
    # the rerun resumes: nothing fused again, the bad file named again
    assert tool.main(args + ['--workers', '0']) == 1
    res = capsys.readouterr()
    assert 'fused 0 pair(s)' in res.out and '7 already there' in res.out
    assert f'cannot read IR image {bad}' in res.err
    # the file fixed, the rerun fuses that pair only, exit status 0
    with open(bad, 'wb') as f:
        f.write(data)
    assert tool.main(args + ['--no-progress']) == 0
    assert 'fused 1 pair(s)' in capsys.readouterr().out
    assert len(os.listdir(out)) == 8
