import os
import os.path as osp
import shutil

import numpy as np
import pytest
from mmengine.registry import init_default_scope

from mmfusion.datasets import MSRSDataset, PairedImageDataset
from mmfusion.registry import DATASETS


def _mini_copy(src, dst, n=3):
    """Copy n pairs of msrs_mini/test into dst in the official layout."""
    names = sorted(os.listdir(osp.join(src, 'test', 'ir')))[:n]
    for sub in ('ir', 'vi', 'Segmentation_labels'):
        os.makedirs(osp.join(dst, 'test', sub))
        for name in names:
            shutil.copy(
                osp.join(src, 'test', sub, name),
                osp.join(dst, 'test', sub, name))
    return names


def test_msrs_mini_official_layout(msrs_mini, msrs_mini_pairs):
    init_default_scope('mmfusion')
    ds = DATASETS.build(
        dict(
            type='MSRSDataset',
            data_root=msrs_mini,
            data_prefix=dict(
                ir='train/ir', vis='train/vi',
                seg='train/Segmentation_labels'),
            pipeline=[]))
    assert len(ds) == msrs_mini_pairs['train']
    info = ds[0]
    assert info['ir_path'].endswith(osp.join('train', 'ir', '00004N.png'))
    assert info['vis_path'].endswith(osp.join('train', 'vi', '00004N.png'))
    assert info['seg_map_path'].endswith('00004N.png')
    assert ds.metainfo['classes'][:3] == ('unlabelled', 'car', 'person')
    assert len(ds.metainfo['palette']) == 9
    test = MSRSDataset(
        data_root=msrs_mini,
        data_prefix=dict(ir='test/ir', vis='test/vi'),
        pipeline=[])
    assert len(
        test) == msrs_mini_pairs['test'] and 'seg_map_path' not in test[0]


def test_missing_counterpart_is_named(msrs_mini, tmp_path):
    names = _mini_copy(msrs_mini, str(tmp_path))
    os.remove(osp.join(tmp_path, 'test', 'vi', names[1]))
    with pytest.raises(FileNotFoundError) as e:
        PairedImageDataset(
            data_root=str(tmp_path),
            data_prefix=dict(ir='test/ir', vis='test/vi'))
    assert names[1] in str(e.value) and 'no VIS counterpart' in str(e.value)


def test_pairs_match_across_extensions(msrs_mini, tmp_path):
    import cv2
    names = _mini_copy(msrs_mini, str(tmp_path), n=2)
    vi = osp.join(tmp_path, 'test', 'vi')
    for name in names:
        img = cv2.imread(osp.join(vi, name))
        os.remove(osp.join(vi, name))
        cv2.imwrite(osp.join(vi, name.replace('.png', '.jpg')), img)
    ds = PairedImageDataset(
        data_root=str(tmp_path), data_prefix=dict(ir='test/ir', vis='test/vi'))
    assert len(ds) == 2 and ds[0]['vis_path'].endswith('.jpg')


def test_size_mismatch_is_named(msrs_mini, tmp_path):
    import cv2
    names = _mini_copy(msrs_mini, str(tmp_path), n=2)
    path = osp.join(tmp_path, 'test', 'vi', names[0])
    cv2.imwrite(path, np.zeros((240, 320, 3), np.uint8))
    with pytest.raises(ValueError) as e:
        MSRSDataset(
            data_root=str(tmp_path),
            data_prefix=dict(
                ir='test/ir', vis='test/vi', seg='test/Segmentation_labels'))
    assert names[0] in str(e.value) and '320x240' in str(e.value)


def test_missing_mask_is_named(msrs_mini, tmp_path):
    names = _mini_copy(msrs_mini, str(tmp_path), n=2)
    os.remove(osp.join(tmp_path, 'test', 'Segmentation_labels', names[0]))
    with pytest.raises(FileNotFoundError, match='no segmentation label'):
        MSRSDataset(
            data_root=str(tmp_path),
            data_prefix=dict(
                ir='test/ir', vis='test/vi', seg='test/Segmentation_labels'))
