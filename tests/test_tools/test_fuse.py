# Copyright (c) mmfusion contributors. All rights reserved.
"""tools/fuse.py on a folder of real pairs."""
import importlib.util
import os
import os.path as osp

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
