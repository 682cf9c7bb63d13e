# Copyright (c) mmfusion contributors. All rights reserved.
"""Where and under which name the hooks write one image per predicted
sample (:class:`FusedImageSaveHook`, :class:`FusionVisualizationHook`)."""
import os.path as osp
from typing import Optional

import mmcv
import numpy as np
from mmengine.runner import Runner

__all__ = ['stage_folder', 'sample_name', 'write_rgb']


def stage_folder(runner: Runner, out_dir: str, stage: str) -> str:
    """``{work_dir}/{out_dir}/val/iter_{N}`` in validation (N = the training
    iteration), ``{work_dir}/{out_dir}/{stage}`` otherwise (``'test'``)."""
    folder = osp.join(runner.work_dir, out_dir, stage)
    if stage == 'val':
        folder = osp.join(folder, f'iter_{runner.iter}')
    return folder


def sample_name(sample, default: Optional[str] = None) -> str:
    """A sample's file name stem: its ``img_id``, else the stem of its
    ``ir_path``, else ``default`` (``None``: a sample without ``ir_path``
    raises ``KeyError``)."""
    name = sample.metainfo.get('img_id')
    if name:
        return name
    if default is None:
        ir_path = sample.metainfo['ir_path']
    else:
        ir_path = sample.metainfo.get('ir_path', default)
    return osp.splitext(osp.basename(ir_path))[0]


def write_rgb(rgb: np.ndarray, folder: str, name: str) -> str:
    """Write an RGB uint8 image to ``{folder}/{name}.png`` (folders made as
    needed); returns the path."""
    path = osp.join(folder, f'{name}.png')
    mmcv.imwrite(rgb[..., ::-1], path, auto_mkdir=True)
    return path
