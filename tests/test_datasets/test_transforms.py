import copy
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope

from mmfusion.datasets.transforms import load_ir, load_vis


def _info(root, name='00004N'):
    return dict(
        img_id=name,
        ir_path=osp.join(root, 'train', 'ir', f'{name}.png'),
        vis_path=osp.join(root, 'train', 'vi', f'{name}.png'),
        seg_map_path=osp.join(root, 'train', 'Segmentation_labels',
                              f'{name}.png'),
        seg_fields=[],
        reduce_zero_label=False)


def test_load_and_pack_real_pair(msrs_mini):
    init_default_scope('mmfusion')
    pipeline = Compose([
        dict(type='LoadPairedImageFromFile'),
        dict(type='mmseg.LoadAnnotations'),
        dict(type='PackFusionInputs')
    ])
    out = pipeline(_info(msrs_mini))
    inputs, sample = out['inputs'], out['data_samples']
    assert inputs.shape == (4, 480, 640) and inputs.dtype == torch.uint8
    vis = mmcv.imread(_info(msrs_mini)['vis_path'])  # BGR
    ir = mmcv.imread(_info(msrs_mini)['ir_path'], flag='grayscale')
    assert np.array_equal(inputs[:3].permute(1, 2, 0).numpy(), vis)
    assert np.array_equal(inputs[3].numpy(), ir)
    assert sample.gt_sem_seg.data.shape == (1, 480, 640)
    assert sample.metainfo['ir_path'].endswith('00004N.png')
    assert sample.metainfo['vis_is_gray'] is False


def test_geometry_moves_ir_vis_and_mask_together(msrs_mini, tmp_path):
    """Plant the same markers in IR, VIS and the mask; after random
    resize/crop/flip they must sit at the same pixels in all three."""
    init_default_scope('mmfusion')
    info = _info(msrs_mini)
    vis = mmcv.imread(info['vis_path'])
    ir = mmcv.imread(info['ir_path'], flag='grayscale')
    seg = mmcv.imread(info['seg_map_path'], flag='unchanged')
    seg[:] = 0
    for y in range(40, 480, 120):  # a grid of 24x32 markers: any crop
        for x in range(40, 640, 160):  # of 256x256 holds several
            vis[y:y + 24, x:x + 32] = 255
            ir[y:y + 24, x:x + 32] = 255
            seg[y:y + 24, x:x + 32] = 2
    for key, img in (('vis_path', vis), ('ir_path', ir),
                     ('seg_map_path', seg)):
        info[key] = str(tmp_path / f'{key}.png')
        mmcv.imwrite(img, info[key])
    pipeline = Compose([
        dict(type='LoadPairedImageFromFile'),
        dict(type='mmseg.LoadAnnotations'),
        dict(
            type='RandomResize',
            scale=(640, 480),
            ratio_range=(0.7, 1.3),
            keep_ratio=True),
        dict(type='mmseg.RandomCrop', crop_size=(256, 256)),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PackFusionInputs')
    ])
    np.random.seed(1)
    flips = set()
    for _ in range(6):
        out = pipeline(copy.deepcopy(info))
        x = out['inputs']
        mask = out['data_samples'].gt_sem_seg.data[0] == 2
        flips.add(out['data_samples'].metainfo['flip'])
        assert mask.sum() > 100
        # erode by 2 px: the image is resized bilinearly, the mask nearest
        core = -torch.nn.functional.max_pool2d(
            -mask[None, None].float(), 5, 1, 2)[0, 0] > 0.5
        assert core.sum() > 50
        for c in range(4):  # B, G, R, IR are all 255 on the markers
            assert x[c][core].min() >= 250, c
        # outside the (slightly dilated) marker the images differ from 255
        grown = torch.nn.functional.max_pool2d(
            mask[None, None].float(), 5, 1, 2)[0, 0].bool()
        assert (x[3][~grown] == 255).float().mean() < 0.05
    assert flips == {True, False}


def test_ir_stored_as_three_identical_channels(tmp_path):
    gray = np.random.RandomState(0).randint(0, 255, (20, 30), np.uint8)
    path = str(tmp_path / 'ir.png')
    mmcv.imwrite(np.repeat(gray[..., None], 3, 2), path)
    ir = load_ir(path)
    assert ir.shape == (20, 30, 1) and np.array_equal(ir[..., 0], gray)


def test_ir_16bit_is_stretched(tmp_path):
    raw = np.linspace(7000, 7600, 600, dtype=np.uint16).reshape(20, 30)
    path = str(tmp_path / 'ir16.png')
    mmcv.imwrite(raw, path)
    ir = load_ir(path)
    assert ir.dtype == np.uint8 and ir.min() == 0 and ir.max() == 255


def test_gray_vis_is_flagged(tmp_path):
    path = str(tmp_path / 'vis.png')
    mmcv.imwrite(np.full((8, 8), 7, np.uint8), path)
    vis, is_gray = load_vis(path)
    assert is_gray and vis.shape == (8, 8, 3)


def test_unreadable_image_is_named(tmp_path):
    path = tmp_path / 'broken.png'
    path.write_bytes(b'not a png')
    with pytest.raises(ValueError, match='broken.png'):
        load_ir(str(path))
