# Copyright (c) mmfusion contributors. All rights reserved.
"""Images that pass the default header-level check but are damaged inside,
and false-colour IR: named with the reason, never trained on silently."""
import os.path as osp
import struct

import cv2
import numpy as np
import pytest
from mmengine.registry import init_default_scope

from mmfusion.datasets import MSRSDataset
from mmfusion.datasets.transforms import (LoadModalityImage,
                                          LoadPairedImageFromFile, load_ir,
                                          loading)

PREFIX = dict(ir='test/ir', vis='test/vi')


def _zero_idat(path):
    """Zero every IDAT chunk's data, keeping lengths, CRCs and IEND."""
    data = bytearray(open(path, 'rb').read())
    pos = 8
    while pos < len(data):
        n = struct.unpack('>I', data[pos:pos + 4])[0]
        if bytes(data[pos + 4:pos + 8]) == b'IDAT':
            data[pos + 8:pos + 8 + n] = bytes(n)
        pos += 12 + n
    open(path, 'wb').write(bytes(data))


def _dataset(root, **kwargs):
    init_default_scope('mmfusion')
    return MSRSDataset(
        data_root=root,
        data_prefix=dict(PREFIX),
        pipeline=[dict(type='LoadPairedImageFromFile')],
        **kwargs)


@pytest.mark.parametrize('modality,what', [('ir', 'IR'), ('vi', 'VIS')])
def test_png_with_zeroed_idat(msrs_copy, modality, what):
    root, stems = msrs_copy
    path = osp.join(root, 'test', modality, stems[1] + '.png')
    _zero_idat(path)
    ds = _dataset(root)  # the default header check passes it (fast)
    ds[0]
    with pytest.raises(ValueError) as e:
        ds[1]
    msg = str(e.value)
    assert f'cannot read {what} image {path}: ' in msg
    assert 'IDAT' in msg  # the reason: the chunk fails its CRC
    assert "check_images='verify'" in msg
    # the hinted check finds it when the dataset is built
    with pytest.raises(ValueError, match=f'{path}.*IDAT'):
        _dataset(root, check_images='verify')


def test_unreadable_image_reasons(tmp_path):
    empty = tmp_path / 'empty.png'
    empty.write_bytes(b'')
    with pytest.raises(ValueError, match=r'empty file \(0 bytes\)'):
        load_ir(str(empty))
    with pytest.raises(ValueError, match='does not exist'):
        load_ir(str(tmp_path / 'missing.png'))


def _false_colour(src, dst):
    ir = cv2.imread(src, cv2.IMREAD_GRAYSCALE)
    cv2.imwrite(dst, cv2.applyColorMap(ir, cv2.COLORMAP_JET))


def test_false_colour_ir_warns_once_per_dataset(msrs_copy, monkeypatch):
    root, stems = msrs_copy
    for stem in stems[:2]:
        path = osp.join(root, 'test', 'ir', stem + '.png')
        _false_colour(path, path)
    warnings = []
    monkeypatch.setattr(loading, 'print_log',
                        lambda msg, **kw: warnings.append(msg))
    ds = _dataset(root)
    for i in range(3):
        ds[i]
    assert len(warnings) == 1
    first = osp.join(root, 'test', 'ir', stems[0] + '.png')
    assert f'IR image {first} is false colour' in warnings[0]
    assert "false_colour_ir='error'" in warnings[0]
    # a second dataset warns again (once)
    _dataset(root)[1]
    assert len(warnings) == 2

    results = dict(
        ir_path=first,
        vis_path=osp.join(root, 'test', 'vi', stems[0] + '.png'))
    with pytest.raises(ValueError, match=f'IR image {first} is false colour'):
        LoadPairedImageFromFile(false_colour_ir='error')(dict(results))
    out = LoadPairedImageFromFile(false_colour_ir='accept')(dict(results))
    assert out['img'].shape[2] == 4
    with pytest.raises(ValueError, match='false colour'):
        LoadModalityImage('ir', false_colour_ir='error')(dict(results))
    assert len(warnings) == 2
    with pytest.raises(ValueError, match='false_colour_ir must be'):
        LoadPairedImageFromFile(false_colour_ir='gray')


def test_grey_ir_saved_as_colour_jpeg_is_not_false_colour(
        msrs_copy, tmp_path, monkeypatch):
    """A grey image saved as a colour JPEG (M3FD, LLVIP) has channels that
    differ by chroma rounding only: no warning."""
    root, stems = msrs_copy
    ir = cv2.imread(
        osp.join(root, 'test', 'ir', stems[0] + '.png'), cv2.IMREAD_GRAYSCALE)
    noisy = np.repeat(ir[..., None], 3, axis=2).astype(np.int16)
    noisy[..., 0] += np.random.default_rng(0).integers(-1, 2, ir.shape)
    path = str(tmp_path / 'ir.png')
    cv2.imwrite(path, np.clip(noisy, 0, 255).astype(np.uint8))
    warnings = []
    monkeypatch.setattr(loading, 'print_log',
                        lambda msg, **kw: warnings.append(msg))
    assert load_ir(path, false_colour='error').shape == ir.shape + (1, )
    assert not warnings
