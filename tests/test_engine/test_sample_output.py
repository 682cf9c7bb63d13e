"""The hooks' one place for output folders, sample names and PNG writes."""
import os.path as osp
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData

from mmfusion.engine.hooks import FusedImageSaveHook
from mmfusion.engine.hooks.sample_output import (sample_name, stage_folder,
                                                 write_rgb)
from mmfusion.structures import FusionDataSample


def _sample(**metainfo):
    sample = FusionDataSample(metainfo=metainfo)
    sample.pred_fused = PixelData(data=torch.rand(3, 6, 8))
    return sample


def test_names_and_folders(tmp_path):
    runner = SimpleNamespace(work_dir=str(tmp_path), iter=7)
    assert stage_folder(runner, 'fused', 'val') == osp.join(
        str(tmp_path), 'fused', 'val', 'iter_7')
    assert stage_folder(runner, 'fused',
                        'test') == osp.join(str(tmp_path), 'fused', 'test')
    assert sample_name(_sample(img_id='a', ir_path='x/b.png')) == 'a'
    assert sample_name(_sample(ir_path='x/b.jpg')) == 'b'
    assert sample_name(_sample(), default='pair') == 'pair'
    with pytest.raises(KeyError):
        sample_name(_sample())
    rgb = np.zeros((4, 5, 3), np.uint8)
    rgb[..., 0] = 200  # red
    path = write_rgb(rgb, str(tmp_path / 'new' / 'dir'), 'c')
    assert path == str(tmp_path / 'new' / 'dir' / 'c.png')
    assert (cv2.imread(path)[..., 2] == 200).all()  # BGR on disk


def test_fused_image_save_hook_paths(tmp_path):
    runner = SimpleNamespace(work_dir=str(tmp_path), iter=3)
    hook = FusedImageSaveHook(out_dir='out')
    hook.after_val_iter(runner, 0, outputs=[_sample(img_id='v')])
    hook.after_test_iter(runner, 0, outputs=[_sample(ir_path='ir/t.png')])
    assert osp.isfile(tmp_path / 'out' / 'val' / 'iter_3' / 'v.png')
    assert osp.isfile(tmp_path / 'out' / 'test' / 't.png')
