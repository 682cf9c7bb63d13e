# Copyright (c) mmfusion contributors. All rights reserved.
"""Every kind of bad input fails when the dataset is built, naming the file."""
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.registry import init_default_scope

from mmfusion.datasets import M3FDDataset, MSRSDataset, PairedImageDataset

PREFIX = dict(
    ir='test/ir',
    vis='test/vi',
    seg='test/Segmentation_labels',
    det='test/Detection_labels')


def _build(root, **kwargs):
    return MSRSDataset(data_root=root, data_prefix=dict(PREFIX), **kwargs)


def test_clean_copy_builds(msrs_copy):
    root, stems = msrs_copy
    ds = _build(root)
    assert [ds[i]['img_id'] for i in range(3)] == stems


@pytest.mark.parametrize('modality,other', [('vi', 'VIS'), ('ir', 'IR')])
def test_missing_counterpart(msrs_copy, modality, other):
    root, stems = msrs_copy
    os.remove(osp.join(root, 'test', modality, stems[1] + '.png'))
    with pytest.raises(FileNotFoundError) as e:
        _build(root)
    kept = 'ir' if modality == 'vi' else 'vi'
    assert osp.join('test', kept, stems[1] + '.png') in str(e.value)
    assert f'no {other} counterpart' in str(e.value)


def test_split_file_names_missing_image(msrs_copy):
    root, stems = msrs_copy
    with open(osp.join(root, 'split.txt'), 'w') as f:
        f.write(f'{stems[0]}.png\n99999N\n')
    with pytest.raises(FileNotFoundError) as e:
        _build(root, ann_file='split.txt')
    assert 'split.txt' in str(e.value) and '99999N' in str(e.value)
    with open(osp.join(root, 'split.txt'), 'w') as f:
        f.write(f'{stems[2]}\n\n{stems[0]}.png\n')
    ds = _build(root, ann_file='split.txt')
    assert [ds[i]['img_id'] for i in range(len(ds))] == [stems[0], stems[2]]


def test_size_mismatch_unless_resize_is_asked(msrs_copy):
    root, stems = msrs_copy
    vis_path = osp.join(root, 'test', 'vi', stems[0] + '.png')
    vis = cv2.imread(vis_path)
    cv2.imwrite(vis_path, cv2.resize(vis, (320, 240)))
    with pytest.raises(ValueError) as e:
        _build(root)
    assert vis_path in str(e.value) and '320x240' in str(e.value)
    assert 'resize_vis_to_ir=True' in str(e.value)
    ds = _build(root, resize_vis_to_ir=True)
    assert ds[0]['resize_vis_to_ir'] is True
    assert 'resize_vis_to_ir' not in ds[1]


@pytest.mark.parametrize('damage', ['garbage', 'truncated_png', 'empty'])
def test_unreadable_or_corrupt_image(msrs_copy, damage):
    root, stems = msrs_copy
    path = osp.join(root, 'test', 'ir', stems[2] + '.png')
    data = open(path, 'rb').read()
    content = {
        'garbage': b'this is not an image',
        'truncated_png': data[:len(data) // 2],  # valid header, cut data
        'empty': b''
    }[damage]
    with open(path, 'wb') as f:
        f.write(content)
    with pytest.raises(ValueError) as e:
        _build(root)
    assert path in str(e.value) and 'corrupt' in str(e.value)


def test_damaged_png_data_is_caught_by_verify(msrs_copy):
    """A flipped byte inside the pixel data keeps header and end marker:
    ``check_images='verify'`` (chunk CRCs) catches it, 'header' does not."""
    root, stems = msrs_copy
    path = osp.join(root, 'test', 'vi', stems[1] + '.png')
    data = bytearray(open(path, 'rb').read())
    data[len(data) // 2] ^= 0xFF
    open(path, 'wb').write(bytes(data))
    assert len(_build(root)) == 3
    with pytest.raises(ValueError) as e:
        _build(root, check_images='verify')
    assert path in str(e.value) and 'corrupt' in str(e.value)
    with pytest.raises(ValueError, match=stems[1]):
        _build(root, check_images='decode')


def test_truncated_jpeg_is_caught_without_decoding(msrs_copy):
    root, stems = msrs_copy
    src = osp.join(root, 'test', 'vi', stems[0] + '.png')
    jpg = src.replace('.png', '.jpg')
    cv2.imwrite(jpg, cv2.imread(src))
    os.remove(src)
    _build(root)  # a sound JPEG passes
    data = open(jpg, 'rb').read()
    with open(jpg, 'wb') as f:
        f.write(data[:len(data) * 2 // 3])
    # OpenCV decodes such a file without error (grey bottom rows)
    assert cv2.imread(jpg) is not None
    with pytest.raises(ValueError) as e:
        _build(root)
    assert jpg in str(e.value) and 'truncated JPEG' in str(e.value)


def test_mask_size_differs(msrs_copy):
    root, stems = msrs_copy
    path = osp.join(root, 'test', 'Segmentation_labels', stems[1] + '.png')
    cv2.imwrite(path, np.zeros((240, 320), np.uint8))
    with pytest.raises(ValueError) as e:
        _build(root)
    assert path in str(e.value) and '320x240' in str(e.value)


def test_mask_class_id_outside_classes(msrs_copy):
    root, stems = msrs_copy
    path = osp.join(root, 'test', 'Segmentation_labels', stems[0] + '.png')
    mask = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    mask[:10, :10] = 255  # ignore: fine
    cv2.imwrite(path, mask)
    _build(root)
    mask[10:20, :10] = 9  # MSRS has ids 0..8
    cv2.imwrite(path, mask)
    with pytest.raises(ValueError) as e:
        _build(root)
    assert path in str(e.value) and '[9]' in str(e.value)
    # unchecked on request
    assert len(_build(root, check_labels=False)) == 3


def test_colour_mask_is_refused(msrs_copy):
    root, stems = msrs_copy
    path = osp.join(root, 'test', 'Segmentation_labels', stems[0] + '.png')
    cv2.imwrite(path, np.zeros((480, 640, 3), np.uint8))
    with pytest.raises(ValueError, match='single-channel') as e:
        _build(root)
    assert path in str(e.value)


@pytest.mark.parametrize('line,reason', [('0 0.5 0.5 0.1', '4 fields'),
                                         ('car 0.5 0.5 0.1 0.1', 'could not'),
                                         ('0 0.5 0.5 0.1 nan', 'non-finite'),
                                         ('0 1.5 0.5 0.1 0.1', 'normalised'),
                                         ('0 0.5 0.5 0 0.1', 'width/height'),
                                         ('1.5 0.5 0.5 0.1 0.1', 'integer')])
def test_malformed_detection_line(msrs_copy, line, reason):
    root, stems = msrs_copy
    path = osp.join(root, 'test', 'Detection_labels', stems[1] + '.txt')
    lines = open(path).read().splitlines()
    with open(path, 'w') as f:
        f.write('\n'.join(lines + [line]) + '\n')
    with pytest.raises(ValueError) as e:
        _build(root)
    msg = str(e.value)
    assert path in msg and f'line {len(lines) + 1}' in msg and reason in msg


def test_detection_class_id_outside_classes(msrs_copy):
    root, stems = msrs_copy
    path = osp.join(root, 'test', 'Detection_labels', stems[0] + '.txt')
    with open(path, 'a') as f:
        f.write('3 0.5 0.5 0.1 0.1\n')  # MSRS boxes: 0 person .. 2 car
    with pytest.raises(ValueError) as e:
        _build(root)
    assert path in str(e.value) and 'class id 3' in str(e.value)


def test_empty_detection_file_is_valid(msrs_copy):
    root, stems = msrs_copy
    path = osp.join(root, 'test', 'Detection_labels', stems[0] + '.txt')
    open(path, 'w').close()
    ds = _build(root)
    assert ds[0]['instances'] == [] and len(ds[1]['instances']) > 0
    # filter_empty_gt drops it for training only
    assert len(_build(root, filter_cfg=dict(filter_empty_gt=True))) == 2
    assert len(
        _build(root, filter_cfg=dict(filter_empty_gt=True),
               test_mode=True)) == 3


def test_missing_detection_file(msrs_copy):
    root, stems = msrs_copy
    os.remove(osp.join(root, 'test', 'Detection_labels', stems[2] + '.txt'))
    with pytest.raises(FileNotFoundError) as e:
        _build(root)
    assert stems[2] + '.txt' in str(e.value) and 'empty label file' in str(
        e.value)


def test_missing_mask(msrs_copy):
    root, stems = msrs_copy
    os.remove(osp.join(root, 'test', 'Segmentation_labels', stems[0] + '.png'))
    with pytest.raises(FileNotFoundError, match='no segmentation label') as e:
        _build(root)
    assert stems[0] in str(e.value)


def _xml(root, stem):
    return osp.join(root, 'Annotation', stem + '.xml')


def test_voc_unknown_class(layout_copy):
    root = layout_copy('m3fd_mini')
    path = _xml(root, '00000')
    text = open(path).read().replace('<name>Car</name>', '<name>Dog</name>')
    open(path, 'w').write(text)
    with pytest.raises(ValueError) as e:
        M3FDDataset(data_root=root)
    assert path in str(e.value) and "'Dog'" in str(e.value)
    ds = M3FDDataset(data_root=root, ignore_unknown_classes=True)
    assert [i['bbox_label'] for i in ds[0]['instances']] == [0]


@pytest.mark.parametrize('edit,reason', [
    (('<xmax>9</xmax>', '<xmax>2</xmax>'), 'xmin <= xmax'),
    (('<ymin>6</ymin>', '<ymin>six</ymin>'), 'numeric'),
    (('</annotation>', ''), 'cannot parse'),
    (('<width>40</width>', '<width>80</width>'), '80x32 image'),
])
def test_voc_malformed(layout_copy, edit, reason):
    root = layout_copy('m3fd_mini')
    path = _xml(root, '00000')
    text = open(path).read()
    assert edit[0] in text
    open(path, 'w').write(text.replace(edit[0], edit[1]))
    with pytest.raises(ValueError) as e:
        M3FDDataset(data_root=root)
    assert path in str(e.value) and reason in str(e.value)


def test_labels_need_classes(msrs_copy):
    root, _ = msrs_copy
    with pytest.raises(ValueError, match='no classes'):
        PairedImageDataset(
            data_root=root, data_prefix=dict(PREFIX), det_format='yolo')
    with pytest.raises(ValueError, match="det_format"):
        PairedImageDataset(data_root=root, data_prefix=dict(PREFIX))


def test_pipeline_that_leaves_boxes_behind_is_refused(msrs_copy):
    root, _ = msrs_copy
    init_default_scope('mmfusion')
    pipeline = [
        dict(type='LoadPairedImageFromFile'),
        dict(type='mmdet.LoadAnnotations', with_bbox=True),
        dict(
            type='RandomChoice',
            transforms=[[dict(type='RandomFlip', prob=0.5)]]),
    ]
    with pytest.raises(ValueError, match='mmcv.RandomFlip.*mmdet.RandomFlip'):
        _build(root, pipeline=pipeline)
    pipeline[2] = dict(type='mmseg.RandomCrop', crop_size=(64, 64))
    with pytest.raises(ValueError, match='mmseg.RandomCrop'):
        _build(root, pipeline=pipeline)
    pipeline[2] = dict(
        type='RandomResize', scale=(64, 64), ratio_range=(0.5, 1.0))
    with pytest.raises(ValueError, match='mmcv.Resize'):
        _build(root, pipeline=pipeline)
    # box-aware equivalents pass; seg-only configs may use mmseg's
    pipeline[2] = dict(
        type='RandomResize',
        scale=(64, 64),
        ratio_range=(0.5, 1.0),
        resize_type='mmdet.Resize')
    assert len(_build(root, pipeline=pipeline)) == 3
    seg_only = dict(PREFIX)
    del seg_only['det']
    MSRSDataset(
        data_root=root,
        data_prefix=seg_only,
        pipeline=[dict(type='mmseg.RandomCrop', crop_size=(64, 64))])
    # masks must follow too
    with pytest.raises(ValueError, match='mmdet.RandomAffine'):
        MSRSDataset(
            data_root=root,
            data_prefix=seg_only,
            pipeline=[dict(type='mmdet.RandomAffine')])


def test_palette_mask_ids_are_its_indices(msrs_copy):
    """A palette PNG stores ids as palette indices (mmseg reads them so);
    its RGB rendering must not be mistaken for a colour mask."""
    from PIL import Image
    root, stems = msrs_copy
    path = osp.join(root, 'test', 'Segmentation_labels', stems[0] + '.png')
    ids = np.zeros((480, 640), np.uint8)
    ids[100:200, 100:300] = 2
    img = Image.fromarray(ids, mode='P')
    img.putpalette([0, 0, 0, 64, 0, 128, 64, 64, 0] + [0] * (256 * 3 - 9))
    img.save(path)
    _build(root)
    ids[0:10, 0:10] = 12
    img = Image.fromarray(ids, mode='P')
    img.putpalette([0, 0, 0, 64, 0, 128, 64, 64, 0] + [0] * (256 * 3 - 9))
    img.save(path)
    with pytest.raises(ValueError) as e:
        _build(root)
    assert path in str(e.value) and '[12]' in str(e.value)
