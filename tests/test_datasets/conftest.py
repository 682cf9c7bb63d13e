# Copyright (c) mmfusion contributors. All rights reserved.
import os
import os.path as osp
import shutil

import pytest

from mmfusion.datasets import clear_check_cache

TESTS_DATA = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'data')
MSRS_FOLDERS = ('ir', 'vi', 'Segmentation_labels', 'Detection_labels')


def copy_msrs_pairs(src, dst, n=3, split='test'):
    """Copy the first ``n`` pairs of ``src/{split}`` (images, mask and
    detection label) into ``dst/{split}`` in the official MSRS layout."""
    names = sorted(os.listdir(osp.join(src, split, 'ir')))[:n]
    for sub in MSRS_FOLDERS:
        os.makedirs(osp.join(dst, split, sub))
        for name in names:
            if sub == 'Detection_labels':
                name = osp.splitext(name)[0] + '.txt'
            shutil.copy(
                osp.join(src, split, sub, name),
                osp.join(dst, split, sub, name))
    return [osp.splitext(n)[0] for n in names]


@pytest.fixture
def msrs_copy(msrs_mini, tmp_path):
    """A writable 3-pair MSRS copy: returns (root, stems)."""
    stems = copy_msrs_pairs(msrs_mini, str(tmp_path))
    return str(tmp_path), stems


@pytest.fixture
def layout_copy(tmp_path):
    """Copy a ``tests/data`` fixture into a writable folder."""

    def copy(name):
        dst = str(tmp_path / name)
        shutil.copytree(osp.join(TESTS_DATA, name), dst)
        return dst

    return copy


@pytest.fixture(autouse=True)
def _fresh_check_cache():
    # files rewritten within one mtime tick must not hit stale results
    clear_check_cache()
    yield
