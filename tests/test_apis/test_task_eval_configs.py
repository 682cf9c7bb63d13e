# Copyright (c) mmfusion contributors. All rights reserved.
"""The shipped task-driven evaluation configs (``configs/task_eval/``) work
as shipped, on the real MSRS pairs: every input source (VIS, IR, fused)
loads through the config's own pipeline, the config's model trains one step
with the config's optimizer, and its predictions feed the config's
evaluator.

Nothing is downloaded: models are built without ``init_weights`` (the
ImageNet checkpoints of the backbones are not needed for a smoke step).
"""
import copy
import math
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.evaluator import Evaluator
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DATASETS, MODELS, DefaultScope
from mmengine.runner import Runner, set_random_seed

from mmfusion.apis.task_driven import (LOADERS, InputSource,
                                       TaskDrivenEvaluation, modality_loaders)

CONFIGS = dict(
    segformer='configs/task_eval/segformer_mit-b0_msrs.py',
    deeplabv3plus='configs/task_eval/deeplabv3plus_r50_msrs.py',
    retinanet='configs/task_eval/retinanet_r50_msrs_det.py')
SEG_CLASSES = ('unlabelled', 'car', 'person', 'bike', 'curve', 'car_stop',
               'guardrail', 'color_cone', 'bump')
DET_CLASSES = ('person', 'bicycle', 'car')
NUM_PAIRS = 2  # pairs of each split the datasets are limited to


@pytest.fixture(scope='module')
def fused_dir(msrs_mini, tmp_path_factory):
    """An external method's results, one folder per split
    (``fused/train``, ``fused/test``): the pixel-wise maximum of IR and the
    VIS luminance of every pair, named like the pairs."""
    out = str(tmp_path_factory.mktemp('fused'))
    for split in ('train', 'test'):
        os.makedirs(osp.join(out, split))
        for name in sorted(os.listdir(osp.join(msrs_mini, split, 'ir'))):
            ir = cv2.imread(osp.join(msrs_mini, split, 'ir', name), 0)
            vis = cv2.imread(osp.join(msrs_mini, split, 'vi', name), 0)
            cv2.imwrite(
                osp.join(out, split, name), np.maximum(ir, vis),
                [cv2.IMWRITE_PNG_COMPRESSION, 1])
    return out


def _task_config(name, msrs_mini):
    """The shipped config with every dataloader's dataset reading
    ``msrs_mini`` (the first ``NUM_PAIRS`` pairs), loaders without worker
    processes."""
    cfg = Config.fromfile(CONFIGS[name])
    for key in LOADERS:
        loader = cfg[key]
        loader.dataset.data_root = msrs_mini
        loader.dataset.indices = NUM_PAIRS
        loader.num_workers = 0
        loader.persistent_workers = False
    return cfg


def _evaluation(cfg, fused_dir, tmp_path):
    sources = [
        InputSource.baseline('vis'),
        InputSource.baseline('ir'),
        InputSource('max', 'fused', fused_dir=fused_dir)
    ]
    ev = TaskDrivenEvaluation(cfg, sources, str(tmp_path / 'work'))
    ev.check()  # builds every dataset, the fused folders resolved per split
    return ev, {s.modality: s for s in sources}


def _scope(cfg):
    return DefaultScope.overwrite_default_scope(cfg.default_scope)


@pytest.mark.parametrize('name', list(CONFIGS))
def test_config_parses_and_names_its_loaders(name):
    cfg = Config.fromfile(CONFIGS[name])
    task = 'det' if name == 'retinanet' else 'seg'
    assert cfg.default_scope == ('mmdet' if task == 'det' else 'mmseg')
    loaders = modality_loaders(cfg)
    assert set(loaders) == set(LOADERS)
    for key, leaves in loaders.items():
        (leaf, ) = leaves
        assert leaf.type == 'mmfusion.MSRSDataset'
        split = 'train' if key == 'train_dataloader' else 'test'
        assert leaf.data_prefix.ir == f'{split}/ir'
        assert leaf.data_prefix.vis == f'{split}/vi'
        assert leaf.data_prefix[task].startswith(f'{split}/')
        assert leaf.pipeline[0].type == 'mmfusion.LoadModalityImage'
    assert bool(cfg.test_dataloader.dataset.get('test_mode'))
    assert not cfg.train_dataloader.dataset.get('test_mode', False)


def _check_train_sample(task, sample, source, info):
    img = sample['inputs']
    assert img.dtype == torch.uint8 and img.ndim == 3 and img.shape[0] == 3
    h, w = img.shape[1:]
    meta = sample['data_samples'].metainfo
    assert meta['ori_shape'] == (480, 640)
    assert meta['img_path'] == info[f'{source.modality}_path']
    if task == 'seg':
        # RandomResize (x0.5..2) then a crop of at most 480x640
        assert 0 < h <= 480 and 0 < w <= 640
        gt = sample['data_samples'].gt_sem_seg.data
        assert gt.shape == (1, h, w)
        assert set(gt.unique().tolist()) <= set(range(9)) | {255}
    else:
        assert (h, w) == (480, 640)  # Resize to 640x480 of 640x480 pairs
        gt = sample['data_samples'].gt_instances
        assert len(gt) > 0  # filter_empty_gt
        assert set(gt.labels.tolist()) <= {0, 1, 2}
        boxes = gt.bboxes.tensor
        assert (boxes[:, 2:] > boxes[:, :2]).all()
        assert (boxes >= 0).all() and (boxes[:, 2] <= w).all() and \
            (boxes[:, 3] <= h).all()


def _expected_image(source, info):
    """The 3-channel BGR image the source's model must see."""
    if source.modality == 'vis':
        return cv2.imread(info['vis_path'], cv2.IMREAD_COLOR)
    path = info[f'{source.modality}_path']
    return np.repeat(cv2.imread(path, 0)[..., None], 3, axis=2)


@pytest.mark.parametrize('name', list(CONFIGS))
@pytest.mark.slow
def test_every_source_loads_through_the_config_pipeline(
        name, msrs_mini, fused_dir, tmp_path):
    task = 'det' if name == 'retinanet' else 'seg'
    cfg = _task_config(name, msrs_mini)
    ev, sources = _evaluation(cfg, fused_dir, tmp_path)
    set_random_seed(0)
    for modality, source in sources.items():
        vcfg = ev.variant_config(source)
        for key in LOADERS:
            leaf = vcfg[key].dataset
            assert leaf.pipeline[0].modality == modality
            split = 'train' if key == 'train_dataloader' else 'test'
            if modality == 'fused':
                assert leaf.data_prefix.fused == osp.join(fused_dir, split)
            else:
                assert 'fused' not in leaf.data_prefix
        with _scope(vcfg):
            train = DATASETS.build(vcfg.train_dataloader.dataset)
            test = DATASETS.build(vcfg.test_dataloader.dataset)
        assert len(train) == len(test) == NUM_PAIRS
        classes = SEG_CLASSES if task == 'seg' else DET_CLASSES
        assert train.metainfo['classes'] == test.metainfo['classes'] == \
            classes
        for i in range(NUM_PAIRS):
            _check_train_sample(task, train[i], source, train.get_data_info(i))
            # the test pipeline is deterministic: the model sees exactly
            # the source's image (IR and fused as 3 equal channels)
            info = test.get_data_info(i)
            sample = test[i]
            expected = _expected_image(source, info).transpose(2, 0, 1)
            assert np.array_equal(sample['inputs'].numpy(), expected)
            if task == 'seg':
                gt = sample['data_samples'].gt_sem_seg.data[0].numpy()
                assert np.array_equal(
                    gt, cv2.imread(info['seg_map_path'], cv2.IMREAD_UNCHANGED))
            else:
                gt = sample['data_samples'].gt_instances
                assert len(gt) == len(info['instances'])


def _downscale_seg(cfg, size=(120, 160)):
    """DeepLabV3+ R50-D8 (output stride 8) at the shipped 480x640 crop
    takes ~35 s per train step of 2 images on 2 CPU cores: train and test
    it at ``size`` (h, w) instead, the shipped pipeline otherwise unchanged
    (the test image is resized as task_eval_demo.py does; the prediction is
    resized back to the 480x640 label)."""
    h, w = size
    for t in cfg.train_dataloader.dataset.pipeline:
        if t.type.split('.')[-1] == 'RandomResize':
            t.scale = (w, h)
        if t.type.split('.')[-1] == 'RandomCrop':
            t.crop_size = size
    cfg.model.data_preprocessor.size = size
    for key in ('val_dataloader', 'test_dataloader'):
        cfg[key].dataset.pipeline.insert(
            1, dict(type='mmseg.Resize', scale=(w, h), keep_ratio=True))


# the modality each config trains on in the step test (all three covered)
STEP = dict(
    segformer=('vis', 1), deeplabv3plus=('ir', 2), retinanet=('fused', 1))


@pytest.mark.parametrize('name', list(CONFIGS))
@pytest.mark.slow
def test_one_train_step_and_evaluation(name, msrs_mini, fused_dir, tmp_path):
    task = 'det' if name == 'retinanet' else 'seg'
    modality, batch_size = STEP[name]
    cfg = _task_config(name, msrs_mini)
    if name == 'deeplabv3plus':
        _downscale_seg(cfg)
    ev, sources = _evaluation(cfg, fused_dir, tmp_path)
    cfg = ev.variant_config(sources[modality])
    # batch 1 (the ASPP image-pool branch of DeepLabV3+ has BatchNorm on a
    # 1x1 map: it needs 2 images per batch to train)
    cfg.train_dataloader.batch_size = batch_size
    set_random_seed(0)
    with _scope(cfg):
        # the dataloader as the Runner builds it: the config's sampler,
        # batch sampler and collate function
        loader = Runner.build_dataloader(cfg.train_dataloader)
        batch = next(iter(loader))
        assert len(batch['inputs']) == batch_size
        crop = (120, 160) if name == 'deeplabv3plus' else (480, 640)
        for img in batch['inputs']:
            assert img.shape[0] == 3
            if task == 'seg':  # random resize, then crop
                assert img.shape[1] <= crop[0] and img.shape[2] <= crop[1]
            else:
                assert img.shape[1:] == (480, 640)
        model = MODELS.build(cfg.model)  # no init_weights: no download
        optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
        head = model.bbox_head if task == 'det' else model.decode_head
        before = [p.detach().clone() for p in head.parameters()]
        model.train()
        # (RetinaNet's focal loss is in the hundreds: without init_weights
        # the classifier lacks its prior-probability bias; still finite)
        log_vars = model.train_step(batch, optim_wrapper)
        assert 'loss' in log_vars
        for key, value in log_vars.items():
            assert math.isfinite(float(value.detach())), (key, value)
        after = list(head.parameters())
        assert any(not torch.equal(a, b) for a, b in zip(after, before))

        # one test-split sample through val_step and the config's evaluator
        val_loader = copy.deepcopy(cfg.val_dataloader)
        val_loader.dataset.indices = 1
        val_loader = Runner.build_dataloader(val_loader)
        evaluator = Evaluator(cfg.val_evaluator)
        evaluator.dataset_meta = val_loader.dataset.metainfo
        model.eval()
        for data in val_loader:
            outputs = model.val_step(data)
            assert len(outputs) == 1
            if task == 'seg':
                assert outputs[0].pred_sem_seg.shape == (480, 640)
            else:
                assert outputs[0].pred_instances.bboxes.shape[1] == 4
            evaluator.process(data_samples=outputs, data_batch=data)
        metrics = evaluator.evaluate(len(val_loader.dataset))
    if task == 'seg':
        expected = {'aAcc', 'mIoU'} | {f'IoU.{c}' for c in SEG_CLASSES}
        assert expected <= set(metrics)
        assert 0 <= metrics['aAcc'] <= 100
        assert 0 <= metrics['mIoU'] <= 100
    else:
        # (CocoMetric reports nothing for an untrained model without
        # boxes: see test_det_evaluators_score_the_ground_truth)
        assert {'pascal_voc/mAP', 'pascal_voc/AP50'} <= set(metrics)
        assert 0 <= metrics['pascal_voc/mAP'] <= 1


def test_det_evaluators_score_the_ground_truth(msrs_mini):
    """The detection config's evaluators (VOC mAP@0.5 and COCO mAP, the
    latter from the dataset's boxes, no COCO json) give 1.0 to predictions
    equal to the ground truth of the test split, through the config's own
    test pipeline."""
    cfg = _task_config('retinanet', msrs_mini)
    cfg.test_dataloader.dataset.indices = 8
    with _scope(cfg):
        loader = Runner.build_dataloader(cfg.test_dataloader)
        evaluator = Evaluator(cfg.test_evaluator)
        evaluator.dataset_meta = loader.dataset.metainfo
        boxes = 0
        for data in loader:
            samples = data['data_samples']
            for sample in samples:
                gt = sample.gt_instances
                pred = gt.clone()
                # the test pipeline loads the boxes after resizing: like
                # the model's predictions, they are in the original frame
                pred.bboxes = getattr(gt.bboxes, 'tensor', gt.bboxes)
                pred.scores = torch.ones(len(gt))
                sample.pred_instances = pred
                boxes += len(gt)
            evaluator.process(data_samples=samples, data_batch=data)
        metrics = evaluator.evaluate(len(loader.dataset))
    assert boxes > 0
    assert metrics['pascal_voc/mAP'] == pytest.approx(1.0)
    assert metrics['coco/bbox_mAP'] == pytest.approx(1.0)
    assert metrics['coco/bbox_mAP_50'] == pytest.approx(1.0)
