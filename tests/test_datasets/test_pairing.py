# Copyright (c) mmfusion contributors. All rights reserved.
"""One pairing rule (mmfusion.datasets.pairing) for the datasets, the
inferencer (tools/fuse.py) and folder evaluation (eval_fused.py)."""
import os
import os.path as osp
import warnings

import cv2
import numpy as np
import pytest

from mmfusion.apis import collect_pairs
from mmfusion.apis.folder_evaluation import evaluate_fused_folders
from mmfusion.datasets import PairedImageDataset
from mmfusion.datasets.pairing import (IMG_EXTENSIONS, index_images,
                                       pair_folders)


def _write(folder, *names, value=128):
    os.makedirs(folder, exist_ok=True)
    for name in names:
        img = np.full((16, 16, 3), value, np.uint8)
        img[4:8, 4:8] = 255 - value  # not flat: every metric is defined
        assert cv2.imwrite(osp.join(folder, name), img), name


@pytest.fixture
def folders(tmp_path):
    ir, vis = str(tmp_path / 'ir'), str(tmp_path / 'vi')
    _write(ir, 'a.png', 'b.png')
    _write(vis, 'a.jpg', 'b.png')
    return ir, vis


def test_pairs_by_name_across_extensions(folders):
    ir, vis = folders
    pairs = pair_folders(ir, vis)
    assert pairs.names == ['a', 'b'] and pairs.unmatched == []
    assert pairs.files() == [('a', osp.join(ir,
                                            'a.png'), osp.join(vis, 'a.jpg')),
                             ('b', osp.join(ir,
                                            'b.png'), osp.join(vis, 'b.png'))]


def test_extension_case_and_other_files(tmp_path):
    folder = str(tmp_path / 'x')
    _write(folder, 'UP.PNG', 'mixed.JpG', 'plain.tif')
    os.makedirs(osp.join(folder, 'sub.png'))  # a folder, not an image
    for name in ('notes.txt', 'noext', '.hidden'):
        open(osp.join(folder, name), 'w').close()
    assert list(index_images(folder)) == ['UP', 'mixed', 'plain']
    assert set(IMG_EXTENSIONS) >= {
        '.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff'
    }


def test_names_are_case_sensitive(tmp_path):
    ir, vis = str(tmp_path / 'ir'), str(tmp_path / 'vi')
    _write(ir, 'a.png', 'B.png')
    _write(vis, 'a.png', 'b.png')
    with pytest.warns(UserWarning, match='2 image'):
        pairs = pair_folders(ir, vis, unmatched='warn')
    assert pairs.names == ['a'] and pairs.unmatched == ['B', 'b']


def test_duplicate_name_is_an_error_naming_both(folders):
    ir, vis = folders
    _write(vis, 'a.png')  # beside a.jpg
    for unmatched in ('error', 'warn'):
        with pytest.raises(ValueError) as e:
            pair_folders(ir, vis, unmatched=unmatched)
        assert 'a.jpg' in str(e.value) and 'a.png' in str(e.value)
        assert vis in str(e.value)


def test_unmatched_policy(folders):
    ir, vis = folders
    _write(ir, 'c.png')
    with pytest.raises(FileNotFoundError) as e:
        pair_folders(ir, vis, unmatched='error')
    assert osp.join(ir, 'c.png') in str(e.value)
    assert 'no VIS counterpart' in str(e.value)
    with pytest.warns(UserWarning, match='without a partner'):
        pairs = pair_folders(ir, vis, unmatched='warn')
    assert pairs.names == ['a', 'b'] and pairs.unmatched == ['c']
    with pytest.raises(ValueError, match='unmatched must be one of'):
        pair_folders(ir, vis, unmatched='ignore')


def test_no_pair_and_missing_folder(tmp_path):
    ir, vis = str(tmp_path / 'ir'), str(tmp_path / 'vi')
    _write(ir, 'a.png')
    _write(vis, 'b.png')
    with pytest.raises(ValueError, match='no IR/VIS pairs'), \
            warnings.catch_warnings():
        warnings.simplefilter('ignore')
        pair_folders(ir, vis, unmatched='warn')
    with pytest.raises(
            FileNotFoundError, match='VIS folder .* does not '
            'exist'):
        pair_folders(ir, str(tmp_path / 'missing'))


def test_every_consumer_pairs_a_folder_the_same_way(folders, tmp_path):
    """The dataset, the inferencer's collect_pairs and folder evaluation
    see the same pairs, and all refuse a duplicate name."""
    ir, vis = folders
    root = osp.dirname(ir)
    dataset = PairedImageDataset(
        data_root=root, data_prefix=dict(ir='ir', vis='vi'))
    from_dataset = [(dataset[i]['img_id'], dataset[i]['ir_path'],
                     dataset[i]['vis_path']) for i in range(len(dataset))]
    assert from_dataset == collect_pairs(ir, vis) == pair_folders(ir,
                                                                  vis).files()
    fused = str(tmp_path / 'fused')
    _write(fused, 'a.png', 'b.jpg', value=100)
    result = evaluate_fused_folders({'m': fused},
                                    ir,
                                    vis,
                                    metrics=['EN'],
                                    progress=False)
    assert [r['image'] for r in result.rows] == ['a', 'b']

    _write(vis, 'a.png')  # now a.png and a.jpg
    with pytest.raises(ValueError, match='holds both a.jpg and a.png'):
        PairedImageDataset(data_root=root, data_prefix=dict(ir='ir', vis='vi'))
    with pytest.raises(ValueError, match='holds both a.jpg and a.png'):
        collect_pairs(ir, vis)
    with pytest.raises(ValueError, match='holds both a.jpg and a.png'):
        evaluate_fused_folders({'m': fused},
                               ir,
                               vis,
                               metrics=['EN'],
                               progress=False)
    os.remove(osp.join(vis, 'a.png'))
    _write(fused, 'a.jpg', value=100)  # a duplicate among fused images
    with pytest.raises(ValueError, match=r'fused image \(m\) folder'):
        evaluate_fused_folders({'m': fused},
                               ir,
                               vis,
                               metrics=['EN'],
                               progress=False)
