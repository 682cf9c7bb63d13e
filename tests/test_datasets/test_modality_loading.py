# Copyright (c) mmfusion contributors. All rights reserved.
"""One input source of a paired dataset for a plain task model: the
dataset's ``fused`` folder and ``LoadModalityImage``."""
import os
import os.path as osp

import cv2
import numpy as np
import pytest

from mmfusion.datasets import MSRSDataset
from mmfusion.datasets.transforms import LoadModalityImage


def _fused_folder(root, stems, size=None):
    """A real (if simple) fusion of each pair: the pixel-wise maximum of IR
    and the VIS luminance, written like an external method's results."""
    out = osp.join(root, 'fused')
    os.makedirs(out, exist_ok=True)
    for stem in stems:
        ir = cv2.imread(osp.join(root, 'test', 'ir', f'{stem}.png'), 0)
        vis = cv2.imread(osp.join(root, 'test', 'vi', f'{stem}.png'), 0)
        img = np.maximum(ir, vis)
        if size is not None:
            img = cv2.resize(img, size)
        cv2.imwrite(osp.join(out, f'{stem}.png'), img)
    return out


def _dataset(root, fused=None, pipeline=()):
    prefix = dict(ir='test/ir', vis='test/vi', seg='test/Segmentation_labels')
    if fused is not None:
        prefix['fused'] = fused
    return MSRSDataset(
        data_root=root, data_prefix=prefix, pipeline=list(pipeline))


def test_fused_prefix_gives_fused_paths(msrs_copy):
    root, stems = msrs_copy
    fused = _fused_folder(root, stems)
    ds = _dataset(root, fused)
    assert len(ds) == 3
    for i, stem in enumerate(stems):
        info = ds.get_data_info(i)
        assert info['fused_path'] == osp.join(fused, f'{stem}.png')
    # an extra image in the fused folder is ignored (a flat folder may hold
    # every split)
    cv2.imwrite(osp.join(fused, 'extra.png'), np.zeros((4, 4), np.uint8))
    assert len(_dataset(root, fused)) == 3
    assert 'fused_path' not in _dataset(root).get_data_info(0)


def test_fused_prefix_bad_input_names_the_file(msrs_copy):
    root, stems = msrs_copy
    fused = _fused_folder(root, stems)
    os.remove(osp.join(fused, f'{stems[1]}.png'))
    with pytest.raises(FileNotFoundError) as e:
        _dataset(root, fused)
    assert f'{stems[1]}.png' in str(e.value) and fused in str(e.value)
    _fused_folder(root, stems[1:2], size=(320, 240))
    with pytest.raises(ValueError) as e:
        _dataset(root, fused)
    msg = str(e.value)
    assert osp.join(fused, f'{stems[1]}.png') in msg and '320x240' in msg
    with open(osp.join(fused, f'{stems[1]}.png'), 'wb') as f:
        f.write(b'not an image')
    with pytest.raises(ValueError, match='cannot read image .*' + stems[1]):
        _dataset(root, fused)
    with pytest.raises(FileNotFoundError, match='does not exist'):
        _dataset(root, osp.join(root, 'nowhere'))
    with pytest.raises(KeyError, match='fused'):
        MSRSDataset(
            data_root=root,
            data_prefix=dict(ir='test/ir', vis='test/vi', fusd='x'))


def test_load_modality_image(msrs_copy):
    root, stems = msrs_copy
    fused = _fused_folder(root, stems)
    info = _dataset(root, fused).get_data_info(0)
    vis = LoadModalityImage('vis')(dict(info))
    ir = LoadModalityImage('ir')(dict(info))
    fu = LoadModalityImage('fused')(dict(info))
    ref_vis = cv2.imread(info['vis_path'], cv2.IMREAD_COLOR)
    ref_ir = cv2.imread(info['ir_path'], cv2.IMREAD_GRAYSCALE)
    ref_fu = cv2.imread(info['fused_path'], cv2.IMREAD_GRAYSCALE)
    np.testing.assert_array_equal(vis['img'], ref_vis)
    assert vis['img_path'] == info['vis_path'] and vis['modality'] == 'vis'
    for out, ref, path in ((ir, ref_ir, info['ir_path']),
                           (fu, ref_fu, info['fused_path'])):
        assert out['img'].shape == (480, 640, 3)
        for c in range(3):  # gray -> 3 identical channels for the task
            np.testing.assert_array_equal(out['img'][..., c], ref)
        assert out['img_path'] == path
        assert out['img_shape'] == out['ori_shape'] == (480, 640)
    assert not np.array_equal(ir['img'], fu['img'])
    # fused images requested from a dataset without a fused folder
    bare = _dataset(root).get_data_info(0)
    with pytest.raises(KeyError, match="data_prefix\\['fused'\\]"):
        LoadModalityImage('fused')(dict(bare))
    with pytest.raises(ValueError, match='modality'):
        LoadModalityImage('rgb')


def test_load_modality_resizes_vis_to_ir_when_allowed(msrs_copy):
    root, stems = msrs_copy
    vis_path = osp.join(root, 'test', 'vi', f'{stems[0]}.png')
    cv2.imwrite(vis_path, cv2.resize(cv2.imread(vis_path), (320, 240)))
    ds = MSRSDataset(
        data_root=root,
        data_prefix=dict(ir='test/ir', vis='test/vi'),
        resize_vis_to_ir=True)
    out = LoadModalityImage('vis')(dict(ds.get_data_info(0)))
    assert out['img'].shape == (480, 640, 3)


def test_task_pipeline_on_a_paired_dataset(msrs_copy):
    """An ordinary mmseg pipeline behind LoadModalityImage: labels and
    geometry as for a plain mmseg dataset."""
    root, stems = msrs_copy
    fused = _fused_folder(root, stems)
    ds = _dataset(
        root,
        fused,
        pipeline=[
            dict(type='mmfusion.LoadModalityImage', modality='fused'),
            dict(type='mmseg.LoadAnnotations'),
            dict(type='mmseg.RandomCrop', crop_size=(96, 128)),
            dict(type='mmseg.PackSegInputs'),
        ])
    sample = ds[0]
    assert tuple(sample['inputs'].shape) == (3, 96, 128)
    assert tuple(sample['data_samples'].gt_sem_seg.data.shape) == (1, 96, 128)
    assert sample['data_samples'].img_path.startswith(fused)
