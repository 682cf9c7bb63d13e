"""Views (resize / crop / swap) move every target a task can get, by type;
packing keeps every label the pipeline produced (real MSRS pairs from
data/msrs_demo)."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmdet.structures.bbox import HorizontalBoxes
from mmdet.structures.mask import BitmapMasks, PolygonMasks
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData, PixelData

from mmfusion.models.utils.views import (random_crop_batch, resize_batch,
                                         swap_modalities)
from mmfusion.registry import DATASETS, MODELS
from mmfusion.structures import FusionDataSample

DEMO = osp.join(
    osp.dirname(osp.dirname(osp.dirname(__file__))), 'data', 'msrs_demo')


def _sample(H=48, W=64):
    """Boxes (x1, y1, x2, y2) [4, 8, 20, 24] and [40, 30, 60, 46], one
    ignored box, masks filling the boxes, a semantic and an edge map."""
    boxes = torch.tensor([[4., 8., 20., 24.], [40., 30., 60., 46.]])
    masks = np.zeros((2, H, W), np.uint8)
    for m, (x1, y1, x2, y2) in zip(masks, boxes.int().tolist()):
        m[y1:y2, x1:x2] = 1
    seg = torch.zeros(1, H, W, dtype=torch.long)
    seg[:, 8:24, 4:20] = 2
    seg[:, 30:46, 40:60] = 1
    s = FusionDataSample(
        metainfo=dict(
            img_shape=(H, W), ori_shape=(H, W), scale_factor=(1., 1.)))
    s.gt_sem_seg = PixelData(data=seg)
    s.gt_edge_map = PixelData(data=(seg > 0).long())
    s.gt_instances = InstanceData(
        bboxes=HorizontalBoxes(boxes),
        labels=torch.tensor([0, 2]),
        masks=BitmapMasks(masks, H, W))
    s.ignored_instances = InstanceData(
        bboxes=HorizontalBoxes(torch.tensor([[0., 0., 8., 8.]])),
        labels=torch.tensor([1]))
    return s


def _inputs(n=1, H=48, W=64):
    g = torch.Generator().manual_seed(0)
    return {
        k: torch.rand(n, c, H, W, generator=g)
        for k, c in (('ir', 1), ('vis_y', 1), ('vis_cbcr', 2))
    }


def test_resize_moves_every_target():
    s = _sample()
    out, (r, ) = resize_batch(_inputs(), [s], (24, 48))  # sy 1/2, sx 3/4
    assert out['ir'].shape[-2:] == (24, 48)
    sx, sy = 0.75, 0.5
    scale = torch.tensor([sx, sy, sx, sy])
    assert isinstance(r.gt_instances.bboxes, HorizontalBoxes)
    torch.testing.assert_close(r.gt_instances.bboxes.tensor,
                               s.gt_instances.bboxes.tensor * scale)
    torch.testing.assert_close(r.ignored_instances.bboxes.tensor,
                               torch.tensor([[0., 0., 6., 4.]]))
    masks = r.gt_instances.masks
    assert isinstance(masks, BitmapMasks) and masks.masks.shape == (2, 24, 48)
    # each resized mask still fills its resized box
    for m, (x1, y1, x2, y2) in zip(masks.masks,
                                   r.gt_instances.bboxes.tensor.tolist()):
        ys, xs = np.nonzero(m)
        assert (xs.min(), ys.min()) == (round(x1), round(y1))
        assert (xs.max() + 1, ys.max() + 1) == (round(x2), round(y2))
    for key in ('gt_sem_seg', 'gt_edge_map'):
        data = getattr(r, key).data
        assert data.shape == (1, 24, 48) and data.dtype == torch.long
    assert r.gt_sem_seg.data[0, 4:12, 3:15].eq(2).all()  # the box, scaled
    assert r.img_shape == (24, 48) and r.pad_shape == (24, 48)
    assert r.batch_input_shape == (24, 48)
    assert r.scale_factor == pytest.approx((sx, sy))
    # the input samples are untouched
    assert s.img_shape == (48, 64) and s.gt_sem_seg.data.shape[-1] == 64


def test_resize_moves_plain_tensor_boxes_and_polygons():
    s = _sample()
    s.gt_instances = InstanceData(
        bboxes=torch.tensor([[4., 8., 20., 24.]]),
        labels=torch.tensor([0]),
        masks=PolygonMasks([[np.array([4., 8., 20., 8., 20., 24., 4., 24.])]],
                           48, 64))
    _, (r, ) = resize_batch(_inputs(), [s], (96, 32))  # sy 2, sx 1/2
    assert isinstance(r.gt_instances.bboxes, torch.Tensor)
    torch.testing.assert_close(r.gt_instances.bboxes,
                               torch.tensor([[2., 16., 10., 48.]]))
    poly = r.gt_instances.masks
    assert isinstance(poly,
                      PolygonMasks) and (poly.height, poly.width) == (96, 32)
    np.testing.assert_allclose(poly.masks[0][0],
                               [2., 16., 10., 16., 10., 48., 2., 48.])


def test_crop_moves_every_target_and_drops_emptied_instances():
    s = _sample()
    inputs = _inputs()
    # find a seed whose window keeps the first box but not the second
    for seed in range(200):
        g = torch.Generator().manual_seed(seed)
        crops, (c, ) = random_crop_batch(
            inputs, (24, 32), g, [s], return_samples=True)
        top, left = _window(inputs['ir'], crops['ir'])
        if left + 32 <= 40 and top < 24 and left < 20:
            break
    else:
        pytest.fail('no window of the wanted kind in 200 draws')
    assert crops['ir'].shape[-2:] == (24, 32)
    np.testing.assert_array_equal(
        c.gt_sem_seg.data, s.gt_sem_seg.data[:, top:top + 24, left:left + 32])
    np.testing.assert_array_equal(
        c.gt_edge_map.data, s.gt_edge_map.data[:, top:top + 24,
                                               left:left + 32])
    # the second box (x from 40) is outside: dropped with its label and mask
    assert len(c.gt_instances) == 1
    assert c.gt_instances.labels.tolist() == [0]
    x1, y1, x2, y2 = c.gt_instances.bboxes.tensor[0].tolist()
    assert (x1, y1) == (max(4 - left, 0), max(8 - top, 0))
    assert (x2, y2) == (min(20 - left, 32), min(24 - top, 24))
    mask = c.gt_instances.masks.masks[0]
    assert mask.shape == (24, 32)
    ys, xs = np.nonzero(mask)
    assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == (x1, y1, x2, y2)
    assert c.img_shape == (24, 32) and c.pad_shape == (24, 32)


def _window(full, crop):
    """(top, left) of ``crop`` in ``full``."""
    H, W = full.shape[-2:]
    h, w = crop.shape[-2:]
    for top in range(H - h + 1):
        for left in range(W - w + 1):
            if torch.equal(full[0, :, top:top + h, left:left + w], crop[0]):
                return top, left
    raise AssertionError('crop not found')


def test_swap_keeps_targets_for_both_halves():
    s = _sample()
    out, samples = swap_modalities(_inputs(), [s])
    assert len(samples) == 2 and out['ir'].shape[0] == 2
    assert 'gt_edge_map' in samples[1] and 'masks' in samples[1].gt_instances


def test_packing_keeps_every_label_and_the_preprocessor_pads_them():
    """A real pair through a pipeline that loads semantic labels, derives
    PIDNet's edge map, loads boxes and makes masks from them: every target
    reaches the sample, padded together with the image."""
    init_default_scope('mmfusion')
    ds = DATASETS.build(
        dict(
            type='MSRSDataset',
            data_root=DEMO,
            data_prefix=dict(
                ir='train/ir',
                vis='train/vi',
                seg='train/Segmentation_labels',
                det='train/Detection_labels'),
            pipeline=[
                dict(type='LoadPairedImageFromFile'),
                dict(type='mmseg.LoadAnnotations'),
                dict(
                    type='mmdet.LoadAnnotations',
                    with_bbox=True,
                    with_label=True),
                dict(type='mmdet.Resize', scale=(100, 75), keep_ratio=True),
                dict(type='mmseg.GenerateEdge', edge_width=2),
                dict(type='MasksFromBoxes'),
                dict(type='PackFusionInputs')
            ]))
    item = ds[0]
    s = item['data_samples']
    assert item['inputs'].shape == (4, 75, 100)
    assert s.gt_sem_seg.data.shape == (1, 75, 100)
    assert s.gt_edge_map.data.shape == (1, 75, 100)
    assert s.gt_edge_map.data.dtype == torch.long
    assert s.gt_edge_map.data.sum() > 0
    inst = s.gt_instances
    assert isinstance(inst.bboxes, HorizontalBoxes) and len(inst) > 0
    assert isinstance(inst.masks, BitmapMasks)
    assert inst.masks.masks.shape == (len(inst), 75, 100)
    assert inst.labels.dtype == torch.long
    assert 'ignored_instances' in s and s.scale_factor is not None
    dp = MODELS.build(dict(type='FusionDataPreprocessor', size_divisor=32))
    out = dp(pseudo_collate([item]), True)
    padded = out['data_samples'][0]
    assert out['inputs']['ir'].shape[-2:] == (96, 128)
    for key in ('gt_sem_seg', 'gt_edge_map'):
        data = getattr(padded, key).data
        assert data.shape == (1, 96, 128)
        assert data[:, 75:].eq(255).all() and data[:, :, 100:].eq(255).all()
