import copy
import os
import os.path as osp

import cv2
import mmcv
import numpy as np
import pytest
import torch
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope

from mmfusion.datasets import MSRSDataset
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


def _plant_markers(info, tmp_path, cls=2):
    """Paint 16 white 24x32 markers into IR, VIS and the mask (class
    ``cls``) of ``info``'s pair; returns the marker boxes (x1, y1, x2, y2)."""
    vis = mmcv.imread(info['vis_path'])
    ir = mmcv.imread(info['ir_path'], flag='grayscale')
    seg = np.zeros(ir.shape, np.uint8)
    boxes = []
    for y in range(40, 480, 120):  # any 256x256 crop holds several markers
        for x in range(40, 640, 160):
            vis[y:y + 24, x:x + 32] = 255
            ir[y:y + 24, x:x + 32] = 255
            seg[y:y + 24, x:x + 32] = cls
            boxes.append((x, y, x + 32, y + 24))
    for key, img in (('vis_path', vis), ('ir_path', ir), ('seg_map_path',
                                                          seg)):
        info[key] = str(tmp_path / f'{key}.png')
        mmcv.imwrite(img, info[key])
    return boxes


def _erode(mask, r=2, outside_in_mask=False):
    """Erode a bool mask by ``r`` px; the outside of the image counts as
    background (bilinear resampling blends the border fill in there) unless
    ``outside_in_mask``."""
    outside = torch.nn.functional.pad(
        (~mask)[None, None].float(), [r] * 4,
        value=0. if outside_in_mask else 1.)
    return torch.nn.functional.max_pool2d(outside, 2 * r + 1, 1)[0, 0] < 0.5


def _check_pixels_aligned(x, mask):
    """B, G, R and IR are 255 on the (eroded) mask and rarely outside it."""
    assert mask.sum() > 100
    # erode by 2 px: images are resampled bilinearly, the mask nearest
    core = _erode(mask)
    assert core.sum() > 50
    for c in range(4):
        assert x[c][core].min() >= 250, c
    grown = torch.nn.functional.max_pool2d(mask[None, None].float(), 5, 1,
                                           2)[0, 0].bool()
    assert (x[3][~grown] == 255).float().mean() < 0.05


@pytest.mark.parametrize('rotate', [False, True])
def test_geometry_moves_ir_vis_and_mask_together(msrs_mini, tmp_path, rotate):
    """Plant the same markers in IR, VIS and the mask; after random
    resize/crop/flip (and rotation) they must sit at the same pixels in all
    three."""
    init_default_scope('mmfusion')
    info = _info(msrs_mini)
    _plant_markers(info, tmp_path)
    transforms = [
        dict(type='LoadPairedImageFromFile'),
        dict(type='mmseg.LoadAnnotations'),
        dict(
            type='RandomResize',
            scale=(640, 480),
            ratio_range=(0.7, 1.3),
            keep_ratio=True),
        dict(type='mmseg.RandomCrop', crop_size=(256, 256)),
        dict(type='RandomFlip', prob=0.5),
    ]
    if rotate:
        transforms.append(
            dict(type='mmseg.RandomRotate', prob=1., degree=30, pad_val=0))
    pipeline = Compose(transforms + [dict(type='PackFusionInputs')])
    np.random.seed(1)
    flips = set()
    for _ in range(6):
        out = pipeline(copy.deepcopy(info))
        mask = out['data_samples'].gt_sem_seg.data[0]
        flips.add(out['data_samples'].metainfo['flip'])
        if rotate:  # the corners rotated in are ignore (255) and black
            border = _erode(mask == 255, outside_in_mask=True)
            assert border.sum() > 100
            assert (out['inputs'][:, border] == 0).all()
        _check_pixels_aligned(out['inputs'], mask == 2)
    assert flips == {True, False}


def _components(mask):
    """Bounding boxes (x1, y1, x2, y2) and areas of the mask's blobs."""
    n, _, stats, _ = cv2.connectedComponentsWithStats(
        mask.numpy().astype(np.uint8), connectivity=8)
    return [(x, y, x + w, y + h, area) for x, y, w, h, area in stats[1:]]


@pytest.mark.parametrize('rotate', [False, True])
def test_geometry_moves_boxes_with_ir_vis_and_mask(msrs_mini, tmp_path,
                                                   rotate):
    """The same planted markers, now also as detection boxes of a dataset in
    the MSRS layout: after random resize/crop/flip (and rotation, and
    padding) every box must still frame its marker in the mask, tightly
    (within 2 px) unless the image border clipped it, and the markers must
    stay aligned in IR, VIS and the mask."""
    init_default_scope('mmfusion')
    info = _info(msrs_mini)
    root = tmp_path / 'msrs'
    for sub in ('ir', 'vi', 'Segmentation_labels', 'Detection_labels'):
        (root / 'train' / sub).mkdir(parents=True)
    boxes = _plant_markers(info, tmp_path)
    for key, sub in (('ir_path', 'ir'), ('vis_path', 'vi'),
                     ('seg_map_path', 'Segmentation_labels')):
        os.replace(info[key], root / 'train' / sub / 'm.png')
    with open(root / 'train' / 'Detection_labels' / 'm.txt', 'w') as f:
        for x1, y1, x2, y2 in boxes:  # class 0 = person (mask id 2)
            f.write(f'0 {(x1 + x2) / 1280} {(y1 + y2) / 960} '
                    f'{(x2 - x1) / 640} {(y2 - y1) / 480}\n')
    transforms = [
        dict(type='LoadPairedImageFromFile'),
        dict(type='mmseg.LoadAnnotations'),
        dict(type='mmdet.LoadAnnotations', with_bbox=True, with_label=True),
        dict(
            type='RandomResize',
            scale=(640, 480),
            ratio_range=(0.7, 1.3),
            keep_ratio=True,
            resize_type='mmdet.Resize'),
        dict(
            type='mmdet.RandomCrop',
            crop_size=(256, 256),
            allow_negative_crop=True),
        dict(type='mmdet.RandomFlip', prob=0.5),
    ]
    if rotate:
        transforms.append(
            dict(
                type='mmdet.Rotate', prob=1., max_mag=30., img_border_value=0))
    transforms += [
        dict(type='mmdet.FilterAnnotations', min_gt_bbox_wh=(2, 2)),
        dict(type='mmdet.Pad', size_divisor=32),
        dict(type='PackFusionInputs')
    ]
    ds = MSRSDataset(
        data_root=str(root),
        data_prefix=dict(
            ir='train/ir',
            vis='train/vi',
            seg='train/Segmentation_labels',
            det='train/Detection_labels'),
        pipeline=transforms)
    assert len(ds.get_data_info(0)['instances']) == 16
    np.random.seed(3)
    flips, tight = set(), 0
    for _ in range(6):
        out = ds[0]
        sample = out['data_samples']
        x, mask = out['inputs'], sample.gt_sem_seg.data[0] == 2
        h, w = sample.img_shape
        assert x.shape[1] % 32 == 0 and x.shape[2] % 32 == 0  # padded
        flips.add(sample.flip)
        if rotate:
            assert abs(sample.homography_matrix[0, 1]) > 1e-3
        _check_pixels_aligned(x, mask)
        bboxes = sample.gt_instances.bboxes.tensor
        assert len(bboxes) > 0 and (sample.gt_instances.labels == 0).all()
        for x1, y1, x2, y2 in bboxes.tolist():
            if not (1 < x1 and 1 < y1 and x2 < w - 1 and y2 < h - 1):
                continue  # clipped by the border: may frame little
            inside = mask[int(y1):int(np.ceil(y2)), int(x1):int(np.ceil(x2))]
            # a (rotated) 24x32 marker fills more than 40% of its box
            assert inside.float().mean() > 0.4, (x1, y1, x2, y2)
        for cx1, cy1, cx2, cy2, area in _components(mask):
            if area < 30 or cx2 - cx1 < 3 or cy2 - cy1 < 3:
                continue  # slivers at the crop edge: boxes < 2 px filtered
            # every marker lies in a box ...
            near = [
                b for b in bboxes.tolist() if b[0] - 2 <= cx1 and b[1] -
                2 <= cy1 and cx2 <= b[2] + 2 and cy2 <= b[3] + 2
            ]
            assert len(near) == 1, (cx1, cy1, cx2, cy2, bboxes)
            bx1, by1, bx2, by2 = near[0]
            # ... which frames it tightly unless the border clipped it
            if 1 < bx1 and 1 < by1 and bx2 < w - 1 and by2 < h - 1:
                assert max(
                    abs(bx1 - cx1), abs(by1 - cy1), abs(bx2 - cx2),
                    abs(by2 - cy2)) <= 2, ((cx1, cy1, cx2, cy2), near[0])
                tight += 1
    assert flips == {True, False} and tight >= 12


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


def test_vis_stored_as_three_identical_channels_is_flagged_gray(tmp_path):
    gray = np.random.RandomState(1).randint(0, 255, (12, 16), np.uint8)
    path = str(tmp_path / 'vis.png')
    mmcv.imwrite(np.repeat(gray[..., None], 3, 2), path)
    vis, is_gray = load_vis(path)
    assert is_gray and np.array_equal(vis[..., 2], gray)
    colour = np.repeat(gray[..., None], 3, 2)
    colour[0, 0, 2] = colour[0, 0, 2] ^ 1
    mmcv.imwrite(colour, path)
    assert load_vis(path)[1] is False


def test_vis_is_resized_to_ir_only_when_the_dataset_asks(msrs_mini, tmp_path):
    init_default_scope('mmfusion')
    info = _info(msrs_mini)
    vis = mmcv.imread(info['vis_path'])
    info['vis_path'] = str(tmp_path / 'small.png')
    mmcv.imwrite(mmcv.imresize(vis, (320, 240)), info['vis_path'])
    load = Compose([dict(type='LoadPairedImageFromFile')])
    with pytest.raises(ValueError, match='small.png is 320x240'):
        load(copy.deepcopy(info))
    out = load(dict(info, resize_vis_to_ir=True))
    assert out['img'].shape == (480, 640, 4)
    assert out['vis_ori_shape'] == (240, 320)


def test_apply_to_vis_changes_vis_only(msrs_mini):
    init_default_scope('mmfusion')
    info = _info(msrs_mini)
    plain = Compose([dict(type='LoadPairedImageFromFile')
                     ])(copy.deepcopy(info))['img']
    for inner in (dict(type='mmseg.PhotoMetricDistortion'),
                  dict(type='mmdet.PhotoMetricDistortion')):  # float out
        pipeline = Compose([
            dict(type='LoadPairedImageFromFile'),
            dict(
                type='ApplyToVis',
                transforms=[inner,
                            dict(type='RandomGrayscale', prob=0.)]),
        ])
        np.random.seed(0)
        changed = 0
        for _ in range(3):
            img = pipeline(copy.deepcopy(info))['img']
            assert img.shape == (480, 640, 4) and img.dtype == np.uint8
            assert np.array_equal(img[..., 3], plain[..., 3])  # IR intact
            changed += not np.array_equal(img[..., :3], plain[..., :3])
        assert changed >= 2, inner


def test_apply_to_vis_keeps_a_gray_vis_gray(tmp_path, msrs_mini):
    init_default_scope('mmfusion')
    info = _info(msrs_mini)
    gray = mmcv.imread(info['vis_path'], flag='grayscale')
    info['vis_path'] = str(tmp_path / 'gray.png')
    mmcv.imwrite(gray, info['vis_path'])
    pipeline = Compose([
        dict(type='LoadPairedImageFromFile'),
        dict(
            type='ApplyToVis',
            transforms=[
                dict(
                    type='mmseg.PhotoMetricDistortion',
                    hue_delta=60,
                    saturation_range=(2.0, 3.0))
            ]),
    ])
    np.random.seed(0)
    out = pipeline(copy.deepcopy(info))
    vis = out['img'][..., :3]
    assert out['vis_is_gray']
    assert np.array_equal(vis[..., 0], vis[..., 1]) and np.array_equal(
        vis[..., 1], vis[..., 2])


def test_apply_to_vis_refuses_geometric_transforms(msrs_mini):
    init_default_scope('mmfusion')
    pipeline = Compose([
        dict(type='LoadPairedImageFromFile'),
        dict(
            type='ApplyToVis',
            transforms=[dict(type='Resize', scale=(320, 240))]),
    ])
    with pytest.raises(ValueError, match='only photometric'):
        pipeline(_info(msrs_mini))


def test_no_image_is_decoded_twice(msrs_mini, monkeypatch):
    """The training pipeline of the detection+segmentation configs reads and
    decodes each file (IR, VIS, mask) exactly once per sample."""
    import PIL.Image
    from mmengine import fileio
    init_default_scope('mmfusion')
    reads, decodes = [], []

    def counting(fn, log, key=lambda a: a[0] if a else None):

        def wrapped(*args, **kwargs):
            log.append(key(args))
            return fn(*args, **kwargs)

        return wrapped

    monkeypatch.setattr(fileio, 'get', counting(fileio.get, reads))
    monkeypatch.setattr(cv2, 'imdecode', counting(cv2.imdecode, decodes))
    monkeypatch.setattr(cv2, 'imread', counting(cv2.imread, decodes))
    monkeypatch.setattr(PIL.Image, 'open', counting(PIL.Image.open, decodes))
    ds = MSRSDataset(
        data_root=msrs_mini,
        data_prefix=dict(
            ir='test/ir',
            vis='test/vi',
            seg='test/Segmentation_labels',
            det='test/Detection_labels'),
        pipeline=[
            dict(type='LoadPairedImageFromFile'),
            dict(type='mmseg.LoadAnnotations'),
            dict(type='mmdet.LoadAnnotations', with_bbox=True),
            dict(
                type='RandomResize',
                scale=(640, 480),
                ratio_range=(0.5, 1.5),
                keep_ratio=True,
                resize_type='mmdet.Resize'),
            dict(
                type='mmdet.RandomCrop',
                crop_size=(256, 256),
                allow_negative_crop=True),
            dict(type='mmdet.RandomFlip', prob=0.5),
            dict(
                type='mmdet.Rotate', prob=0.5, max_mag=10.,
                img_border_value=0),
            dict(
                type='ApplyToVis',
                transforms=[dict(type='mmseg.PhotoMetricDistortion')]),
            dict(type='PackFusionInputs'),
        ])
    reads.clear()
    decodes.clear()  # build-time checks read headers: not the pipeline
    for i in range(4):
        ds[i]
    assert len(decodes) == 4 * 3, decodes
    assert len(reads) == 4 * 3 and len(set(reads)) == 4 * 3, reads


def test_packed_boxes_feed_coco_metric_without_json(msrs_mini):
    """PackFusionInputs keeps the dataset's ``instances``, so mmdet's
    CocoMetric scores fusion-model detections without an annotation file:
    the ground truth itself as predictions scores 1.0, one box fewer per
    image scores less."""
    from mmengine.evaluator import Evaluator
    init_default_scope('mmfusion')
    ds = MSRSDataset(
        data_root=msrs_mini,
        data_prefix=dict(
            ir='test/ir', vis='test/vi', det='test/Detection_labels'),
        indices=12,  # the first 12 pairs (all, in the bundled set)
        test_mode=True,
        pipeline=[
            dict(type='LoadPairedImageFromFile'),
            dict(type='mmdet.LoadAnnotations', with_bbox=True),
            dict(type='PackFusionInputs')
        ])
    scores = []
    for drop in (0, 1):
        evaluator = Evaluator(dict(type='mmdet.CocoMetric', metric='bbox'))
        evaluator.dataset_meta = ds.metainfo
        boxes = 0
        for i in range(len(ds)):
            sample = ds[i]['data_samples']
            assert len(sample.instances) == len(sample.gt_instances) + len(
                sample.ignored_instances)
            gt = sample.gt_instances
            keep = max(len(gt) - drop, 0)
            pred = gt[:keep].clone()
            pred.bboxes = gt.bboxes.tensor[:keep]
            pred.scores = torch.ones(keep)
            sample.pred_instances = pred
            boxes += len(gt)
            evaluator.process([sample])
        assert boxes > len(ds)
        scores.append(evaluator.evaluate(len(ds))['coco/bbox_mAP'])
    assert scores[0] == pytest.approx(1.0)
    assert scores[1] < 0.99
