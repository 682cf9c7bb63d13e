"""Swapping the task by config, as the README shows it, with the strategies'
default views (TDFusion: task input 240x320): a segmentor and a detector take
a meta step; instance segmentation on a dataset with instance masks, and a
build-time error on one without; a handful of zoo families under each
strategy (mmfusion.models.task_adapters.zoo). Real pairs of
data/msrs_demo and tests/data/msrs_inst_mini."""
import os
import os.path as osp
import re
import uuid

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.logging import MessageHub
from mmengine.registry import init_default_scope

from mmfusion.registry import DATASETS, MODELS, OPTIM_WRAPPER_CONSTRUCTORS
from mmfusion.structures.phases import set_phase

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(REPO, 'data', 'msrs_demo')
INST = osp.join(REPO, 'tests', 'data', 'msrs_inst_mini')


def readme_task_examples():
    """The config snippets of the README's "swap the task" paragraph."""
    with open(osp.join(REPO, 'README.md')) as f:
        text = f.read()
    start = text.index('Swapping the task')
    blocks = re.findall(r'```python\n(.*?)```', text[start:start + 3000], re.S)
    return [b for b in blocks if 'TaskAdapter' in b]


def _config_from_text(text, where='configs/tdfusion'):
    """A config file written next to the shipped ones (its relative
    ``_base_`` resolves as a user's would), loaded, then removed."""
    path = osp.join(REPO, where, f'_test_{uuid.uuid4().hex}.py')
    with open(path, 'w') as f:
        f.write(text)
    try:
        return Config.fromfile(path)
    finally:
        os.remove(path)


def _model_and_ow(cfg):
    init_default_scope('mmfusion')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    ow_cfg = dict(cfg.optim_wrapper)
    ow = OPTIM_WRAPPER_CONSTRUCTORS.build(
        dict(type=ow_cfg.pop('constructor'), optim_wrapper_cfg=ow_cfg))(
            model)
    return model, ow


def _batches(cfg, data_root, n=2):
    """Batches of the config's own train pipeline (batch size 1) on the
    given data root."""
    init_default_scope('mmfusion')
    ds_cfg = cfg.train_dataloader.dataset
    ds_cfg.data_root = data_root
    ds = DATASETS.build(ds_cfg)
    return [pseudo_collate([ds[i]]) for i in range(n)]


def _meta_step(model, ow, b1, b2):
    hub = MessageHub.get_current_instance()
    hub.update_info('iter', 0)
    set_phase('meta')
    g0 = [p.detach().clone() for p in model.loss_generator.parameters()]
    log = model.train_step([b1, b2], ow)
    assert torch.isfinite(log['meta.loss']) and torch.isfinite(
        log['task.loss'])
    assert log['nonfinite_skipped'] == 0
    assert any(not torch.equal(a, b)
               for a, b in zip(g0, model.loss_generator.parameters()))
    return log


# TDFusion's published networks at the published sizes need ~12 GB for a
# meta step (README, benchmarks): the tests narrow them (same classes), and
# keep everything else of the config as written
NARROW_TDFUSION = dict(
    fusion_net=dict(type='ReFusionNet', dim=8, num_blocks=1, num_heads=2),
    loss_generator=dict(
        type='TDFusionLossGenerator', dim=8, num_blocks=1, num_heads=2))


@pytest.mark.parametrize('index', [0, 1], ids=['segmentor', 'detector'])
@pytest.mark.slow
def test_readme_swap_example_takes_a_meta_step(index):
    examples = readme_task_examples()
    assert len(examples) == 2, 'the README shows a segmentor and a detector'
    cfg = _config_from_text(examples[index])
    assert cfg.model.task_input_size == (240, 320)  # TDFusion's default
    assert cfg.model.fusion_crop_size == (256, 256)
    cfg.model.update(NARROW_TDFUSION)
    model, ow = _model_and_ow(cfg)
    package = cfg.model.task.cfg_path.split('::')[0]
    assert package == ('mmseg', 'mmdet')[index]
    b1, b2 = _batches(cfg, DEMO)
    _meta_step(model, ow, b1, b2)


MASK_RCNN = '''
_base_ = ['./retinanet_msrs_det.py']
model = dict(task=dict(
    _delete_=True, type='TaskAdapter',
    cfg_path='mmdet::mask_rcnn/mask-rcnn_r18_fpn_8xb8-amp-lsj-200e_coco.py',
    model=dict(roi_head=dict(bbox_head=dict(num_classes=3),
                             mask_head=dict(num_classes=3)))))
train_pipeline = [
    dict(type='LoadPairedImageFromFile'),
    dict(type='mmdet.LoadAnnotations', with_bbox=True, with_label=True,
         with_mask=WITH_MASK),
    dict(type='mmdet.RandomFlip', prob=0.5),
    dict(type='PackFusionInputs'),
]
train_dataloader = dict(num_workers=0, persistent_workers=False,
                        dataset=dict(pipeline=train_pipeline))
'''


@pytest.mark.slow
def test_instance_segmentation_with_instance_masks():
    """Mask R-CNN on pairs whose labels carry polygons: the masks reach the
    task through TDFusion's views (resized to 240x320 with the boxes), its
    mask head trains, and it predicts masks on the fused images."""
    cfg = _config_from_text(MASK_RCNN.replace('WITH_MASK', 'True'))
    cfg.model.update(NARROW_TDFUSION)
    model, ow = _model_and_ow(cfg)
    b1, _ = _batches(cfg, INST)
    masks = b1['data_samples'][0].gt_instances.masks
    assert len(masks) == 6 and masks.height == 240
    hub = MessageHub.get_current_instance()
    hub.update_info('iter', 0)
    set_phase('fusion')
    mask_head = model.task.model.roi_head.mask_head
    before = [p.detach().clone() for p in mask_head.parameters()]
    log = model.train_step(b1, ow)
    assert torch.isfinite(log['task.loss_mask']) and log['task.loss_mask'] > 0
    assert any(not torch.equal(a, b)
               for a, b in zip(before, mask_head.parameters()))
    model.eval()
    with torch.no_grad():
        (result, ) = model.val_step(b1)
    assert 'masks' in result.pred_instances


def test_instance_segmentation_without_masks_fails_at_build(tmp_path):
    """On boxes only, building the runner's train loop names the model and
    the missing field before any step."""
    from mmengine.runner import Runner
    cfg = _config_from_text(MASK_RCNN.replace('WITH_MASK', 'False'))
    cfg.work_dir = str(tmp_path)
    cfg.train_dataloader.dataset.data_root = INST
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.test_cfg = cfg.test_dataloader = cfg.test_evaluator = None
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError) as e:
        runner.train_loop
    msg = str(e.value)
    assert 'mask-rcnn_r18' in msg and 'gt_instances.masks' in msg
    assert 'train dataloader' in msg


# a handful of zoo families per strategy (the whole zoo:
# tools/analysis_tools/check_task_zoo.py, table in docs/task_models.md)
ZOO_SAMPLE = {
    'tdfusion': [('mmseg', 'pidnet'), ('mmdet', 'ssd')],
    'bdlfusion': [('mmseg', 'fastscnn'), ('mmdet', 'yolox')],
    'seafusion': [('mmseg', 'stdc'), ('mmdet', 'rtmdet')],
    # detectors only (the target mask is made of the boxes)
    'tardal': [('mmdet', 'ssd'), ('mmdet', 'yolox')],
}


@pytest.mark.slow
@pytest.mark.parametrize('strategy', sorted(ZOO_SAMPLE))
def test_zoo_families_take_one_step_of_every_phase(strategy):
    from mmfusion.models.task_adapters import zoo
    configs = {
        (p, f): c
        for p in ('mmseg', 'mmdet')
        for f, c, _ in zoo.families(p)
    }
    for package, family in ZOO_SAMPLE[strategy]:
        # the settings of the published table: narrow fusion nets, small
        # pairs (TDFusion's default 240x320 view: the README tests above)
        row = zoo.check(
            strategy,
            package,
            family,
            configs[(package, family)],
            timeout=300,
            pair_size=(128, 96),
            task_input_size=(96, 128))
        assert row['status'] == 'pass', row
        assert set(
            row['losses']) == set(zoo.STRATEGIES[strategy][1]) | {'predict'}
