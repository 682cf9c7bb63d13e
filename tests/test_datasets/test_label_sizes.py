# Copyright (c) mmfusion contributors. All rights reserved.
import os.path as osp
import sys

import cv2
import numpy as np
import pytest

from mmfusion.datasets.label_sizes import (label_height_summary, label_heights,
                                           label_sizes)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _write_pair(root, split, stem, boxes=None, mask=None):
    for sub in ('ir', 'vi', 'Detection_labels', 'Segmentation_labels'):
        (root / split / sub).mkdir(parents=True, exist_ok=True)
    cv2.imwrite(
        str(root / split / 'ir' / f'{stem}.png'), np.zeros((480, 640),
                                                           np.uint8))
    if boxes is not None:
        (root / split / 'Detection_labels' / f'{stem}.txt').write_text(''.join(
            f'{c} {cx} {cy} {w} {h}\n' for c, cx, cy, w, h in boxes))
    if mask is not None:
        cv2.imwrite(
            str(root / split / 'Segmentation_labels' / f'{stem}.png'), mask)


def test_box_heights_scale_with_the_resolution(tmp_path):
    # a person 0.1 of the height (48 px at 640x480), a car 0.25, a bike
    _write_pair(tmp_path, 'train', '00001D', [(0, .5, .5, .05, .1),
                                              (2, .3, .5, .2, .25),
                                              (1, .7, .5, .1, .2)])
    _write_pair(tmp_path, 'test', '00002N', [(0, .5, .5, .025, .05)])
    _write_pair(tmp_path, 'test', '00003N', [])  # no object
    assert label_heights(str(tmp_path)) == dict(
        person=pytest.approx([48., 24.]),
        car=pytest.approx([120.]),
        bike=pytest.approx([96.]))
    small = label_sizes(str(tmp_path), size=(160, 120), splits=['train'])
    assert small['person'] == [pytest.approx((8., 12.))]
    rows = label_height_summary(str(tmp_path), [(320, 240), (160, 120)])
    person = [r for r in rows if r['cls'] == 'person']
    assert [r['median'] for r in person] == pytest.approx([18., 9.])
    assert person[1]['frac_below_8'] == 0.5 and person[1]['n'] == 2
    assert person[1]['median_width'] == pytest.approx(6.)


def test_mask_components_when_there_are_no_boxes(tmp_path):
    mask = np.zeros((480, 640), np.uint8)
    mask[100:160, 10:30] = 2  # a person 60 px tall
    mask[300:340, 200:300] = 1  # a car 40 px tall
    mask[300:320, 400:420] = 2  # another person, 20 px
    _write_pair(tmp_path, 'train', '00001D', mask=mask)
    (tmp_path / 'train' / 'Detection_labels').rmdir()
    heights = label_heights(str(tmp_path), size=(320, 240), splits=['train'])
    assert sorted(heights['person']) == pytest.approx([10., 30.])
    assert heights['car'] == pytest.approx([20.])
    with pytest.raises(FileNotFoundError, match='Detection_labels'):
        label_heights(str(tmp_path), splits=['train'], source='boxes')


def test_bad_label_file_is_named(tmp_path):
    _write_pair(tmp_path, 'train', '00001D', [(0, .5, .5, .05, .1)])
    (tmp_path / 'train' / 'Detection_labels' /
     '00001D.txt').write_text('0 0.5 0.5 0.1\n')
    with pytest.raises(ValueError, match='00001D.txt line 1'):
        label_heights(str(tmp_path))


def test_tool_prints_the_table(tmp_path, capsys, monkeypatch):
    _write_pair(tmp_path, 'train', '00001D', [(0, .5, .5, .05, .1)])
    monkeypatch.syspath_prepend(osp.join(REPO, 'tools', 'analysis_tools'))
    sys.modules.pop('label_sizes', None)
    import label_sizes as tool
    rows = tool.main([str(tmp_path), '--sizes', '320x240', 'native'])
    out = capsys.readouterr().out
    assert '320x240  person' in out and 'native' in out
    assert [r['median'] for r in rows if r['cls'] == 'person'] == [24., 48.]
