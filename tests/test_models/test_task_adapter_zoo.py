"""TaskAdapter with zoo configs by reference: nothing downloaded with
pretrained=False (what was cleared is logged), torchvision:// weights
without torchvision, the task's preprocessor fitted to the fused input,
targets the task needs derived or named at build time."""
import importlib.util
import os
import os.path as osp
from urllib.error import URLError

import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData, PixelData

from mmfusion.models.task_adapters.task_adapter import (clear_pretrained,
                                                        edge_map)
from mmfusion.registry import MODELS
from mmfusion.structures import FusionDataSample
from mmfusion.utils import checkpoint as ckpt_utils


def _adapter(**kwargs):
    init_default_scope('mmfusion')
    return MODELS.build(dict(type='TaskAdapter', **kwargs))


def _logged(records):
    return ' '.join(r.getMessage() for r in records)


@pytest.fixture
def log_records():
    """What the adapter logs through mmengine's current logger."""
    import logging

    records = []

    class Keep(logging.Handler):

        def emit(self, record):
            records.append(record)

    logger = MMLogger.get_current_instance()
    handler = Keep()
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def test_pretrained_false_clears_every_source_and_downloads_nothing(
        log_records, monkeypatch):
    """RetinaNet's torchvision:// backbone init, PSPNet's open-mmlab://
    pretrained=: cleared and logged; init_weights then fetches nothing."""
    from mmengine.runner import checkpoint

    def no_fetch(*args, **kwargs):
        raise AssertionError(f'a download was attempted: {args}')

    for name in ('load_from_http', 'load_from_torchvision',
                 'load_from_openmmlab'):
        monkeypatch.setattr(checkpoint, name, no_fetch)
    det = _adapter(cfg_path='mmdet::retinanet/retinanet_r18_fpn_1x_coco.py')
    seg = _adapter(cfg_path='mmseg::pspnet/pspnet_r18-d8_4xb2-80k_cityscapes-'
                   '512x1024.py')
    log = _logged(log_records)
    assert 'backbone.init_cfg=torchvision://resnet18' in log
    assert 'pretrained=open-mmlab://resnet18_v1c' in log
    det.init_weights()
    seg.init_weights()


def test_clear_pretrained_finds_nested_and_listed_inits():
    cfg = ConfigDict(
        pretrained='open-mmlab://x',
        backbone=dict(
            backbone_cfg=dict(
                init_cfg=dict(
                    type='Pretrained', checkpoint='torchvision://r18')),
            init_cfg=[
                dict(type='Kaiming', layer='Conv2d'),
                dict(type='Pretrained', checkpoint='a.pth')
            ]),
        decode_head=[dict(init_cfg=None),
                     dict(pretrained=True)],
        teacher_ckpt='https://t.pth')
    cleared = clear_pretrained(cfg)
    assert sorted(cleared) == sorted([
        'pretrained=open-mmlab://x',
        'backbone.backbone_cfg.init_cfg=torchvision://r18',
        'backbone.init_cfg=a.pth', 'decode_head[1].pretrained=True',
        'teacher_ckpt=https://t.pth'
    ])
    assert cfg.pretrained is None and cfg.teacher_ckpt is None
    assert cfg.backbone.init_cfg == [dict(type='Kaiming', layer='Conv2d')]
    assert cfg.backbone.backbone_cfg.init_cfg is None
    assert cfg.decode_head[1].pretrained is None


def test_torchvision_weights_without_torchvision(tmp_path, monkeypatch):
    """torchvision:// resolves through mmengine's own URL table (the adapter
    writes the URL into the task config): a cached file loads with no
    network and no torchvision; an uncached one names the URL and the file
    to put offline, never a missing package."""
    assert importlib.util.find_spec('torchvision') is None
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    url = ckpt_utils.torchvision_url('resnet18')
    assert url.startswith('https://download.pytorch.org/models/resnet18')
    cache = osp.join(ckpt_utils.hub_checkpoint_dir(), osp.basename(url))
    assert cache.startswith(str(tmp_path))
    os.makedirs(osp.dirname(cache))
    torch.save({'conv1.weight': torch.ones(64, 3, 7, 7)}, cache)
    cfg = 'mmdet::retinanet/retinanet_r18_fpn_1x_coco.py'
    adapter = _adapter(cfg_path=cfg, pretrained='init_cfg')
    adapter.init_weights()
    assert torch.equal(adapter.model.backbone.conv1.weight,
                       torch.ones(64, 3, 7, 7))
    os.remove(cache)
    from mmengine.runner import checkpoint

    def offline(*args, **kwargs):
        raise URLError('no network')

    monkeypatch.setattr(checkpoint, 'load_url', offline)
    adapter = _adapter(cfg_path=cfg, pretrained='init_cfg')
    with pytest.raises(RuntimeError) as e:
        adapter.init_weights()
    assert url in str(e.value) and cache in str(e.value)
    assert 'pretrained=False' in str(e.value)
    with pytest.raises(KeyError, match='not in mmengine'):
        ckpt_utils.torchvision_url('no_such_net')


def test_init_cfg_mode_keeps_the_config_init(log_records):
    adapter = _adapter(
        cfg_path='mmdet::retinanet/retinanet_r18_fpn_1x_coco.py',
        pretrained='init_cfg')
    backbone = adapter.model.backbone
    # (torchvision is not installed: the same weights by their URL)
    assert backbone.init_cfg['checkpoint'] == ckpt_utils.torchvision_url(
        'resnet18')
    assert 'backbone.init_cfg.checkpoint=torchvision://resnet18' in _logged(
        log_records)
    assert 'cleared' not in _logged(log_records)


def test_segmentor_preprocessor_fits_the_fused_input(log_records):
    """UPerNet's config pads to its 512x1024 crop: by default the adapter
    pads to a multiple of 32 instead (also with a user's size_divisor, the
    combination mmseg refuses); a user's `size` is kept."""
    adapter = _adapter(
        cfg_path='mmseg::upernet/upernet_r18_4xb2-40k_cityscapes-'
        '512x1024.py')
    dp = adapter.model.data_preprocessor
    assert dp.size is None and dp.size_divisor == 32
    assert 'size=(512, 1024) -> None' in _logged(log_records)
    adapter = _adapter(
        cfg_path='mmseg::upernet/upernet_r18_4xb2-40k_cityscapes-'
        '512x1024.py',
        data_preprocessor=dict(size_divisor=64))
    assert adapter.model.data_preprocessor.size_divisor == 64
    adapter = _adapter(
        cfg_path='mmseg::upernet/upernet_r18_4xb2-40k_cityscapes-'
        '512x1024.py',
        data_preprocessor=dict(size=(64, 96), size_divisor=None))
    assert tuple(adapter.model.data_preprocessor.size) == (64, 96)
    # the fused image (any size) goes through, padded to 32
    adapter.train()
    sample = FusionDataSample(metainfo=dict(img_shape=(70, 90)))
    sample.gt_sem_seg = PixelData(data=torch.zeros(1, 70, 90).long())
    adapter = _adapter(
        cfg_path='mmseg::upernet/upernet_r18_4xb2-40k_cityscapes-'
        '512x1024.py',
        model=dict(
            decode_head=dict(num_classes=9),
            auxiliary_head=dict(num_classes=9)))
    adapter.train()
    losses = adapter(
        torch.rand(2, 1, 70, 90), torch.rand(2, 2, 70, 90),
        [sample, sample.clone()])
    assert torch.isfinite(sum(v for k, v in losses.items() if 'loss' in k))


def test_pidnet_edge_map_is_derived_from_the_semantic_map():
    seg = torch.zeros(1, 64, 64, dtype=torch.long)
    seg[:, 16:48, 16:48] = 3
    edge = edge_map(PixelData(data=seg)).data
    assert edge.shape == seg.shape and edge.dtype == torch.long
    assert edge[0, 16, 30] == 1 and edge[0, 32, 32] == 0
    adapter = _adapter(
        cfg_path='mmseg::pidnet/pidnet-s_2xb6-120k_1024x1024-cityscapes.py')
    assert adapter.needed_targets == {'gt_sem_seg', 'gt_edge_map'}
    adapter.train()
    sample = FusionDataSample(metainfo=dict(img_shape=(64, 64)))
    sample.gt_sem_seg = PixelData(data=seg)
    losses = adapter(
        torch.rand(2, 1, 64, 64), torch.rand(2, 2, 64, 64),
        [sample, sample.clone()])
    assert 'decode.loss_bd' in losses or any('bd' in k for k in losses)
    assert 'gt_edge_map' not in sample  # the caller's samples untouched


def test_instance_masks_missing_names_model_and_field():
    adapter = _adapter(
        cfg_path='mmdet::mask_rcnn/mask-rcnn_r18_fpn_8xb8-amp-lsj-200e_'
        'coco.py')
    assert adapter.needed_targets == {'gt_instances', 'gt_instances.masks'}
    sample = FusionDataSample(metainfo=dict(img_shape=(64, 64)))
    sample.gt_instances = InstanceData(
        bboxes=torch.tensor([[1., 1., 9., 9.]]), labels=torch.tensor([0]))
    with pytest.raises(ValueError) as e:
        adapter.check_targets([sample])
    assert 'mask-rcnn_r18' in str(e.value)
    assert 'gt_instances.masks' in str(e.value)
    assert 'MasksFromBoxes' in str(e.value)


def test_distiller_teacher_config_resolved_and_cleared(log_records):
    """LD's teacher_config is a path into mmdet's source tree: read from the
    installed configs, its backbone's ImageNet init cleared too."""
    adapter = _adapter(cfg_path='mmdet::ld/ld_r18-gflv1-r101_fpn_1x_coco.py')
    assert type(adapter.model.teacher_model).__name__ == 'GFL'
    log = _logged(log_records)
    assert 'teacher_config=configs/gfl/gfl_r101_fpn_ms-2x_coco.py' in log
    assert 'teacher_config.model.backbone.init_cfg=torchvision://resnet101' \
        in log and 'teacher_ckpt=https://' in log


def test_class_weighted_cross_entropy_with_padding():
    """TDFusion's default 240x320 task view is padded to 256x320 with label
    255; mmseg 1.2.2's class-weighted CE indexes its weights with 255
    (IndexError, upstream #3734). Through the adapter it trains, and the
    loss is the class-weighted mean over the non-ignored pixels."""
    weights = [1.0, 4.5, 6.5, 10.4, 1.0, 1.0, 1.0, 1.0, 1.0]
    adapter = _adapter(
        cfg_path='mmseg::fcn/fcn_r18-d8_4xb2-80k_cityscapes-512x1024.py',
        model=dict(
            decode_head=dict(
                num_classes=9,
                loss_decode=dict(
                    type='CrossEntropyLoss',
                    class_weight=weights,
                    loss_weight=1.0)),
            auxiliary_head=None))
    adapter.train()
    seg = torch.zeros(1, 240, 320, dtype=torch.long)
    seg[:, 60:120, 100:200] = 1
    seg[:, 150:200, 20:60] = 2
    sample = FusionDataSample(metainfo=dict(img_shape=(240, 320)))
    sample.gt_sem_seg = PixelData(data=seg)
    torch.manual_seed(0)
    losses = adapter(
        torch.rand(1, 1, 240, 320), torch.rand(1, 2, 240, 320), [sample])
    loss = losses['decode.loss_ce']
    assert torch.isfinite(loss) and loss > 0
    # the adapter's own loss in place of mmseg's (mmseg's left as it is)
    from mmseg.models.losses import cross_entropy_loss as ce

    from mmfusion.models.task_adapters.task_fixes import \
        masked_class_weight_cross_entropy
    decode_loss = adapter.model.decode_head.loss_decode
    assert type(decode_loss).__name__ == 'MaskedClassWeightCrossEntropyLoss'
    assert isinstance(decode_loss, ce.CrossEntropyLoss)
    assert ce.cross_entropy.__module__ == ce.__name__
    # the same value from torch's own weighted mean on the unpadded pixels
    logits = torch.randn(2, 9, 8, 10)
    label = torch.randint(0, 4, (2, 8, 10))
    label[:, 6:] = 255
    cw = torch.tensor(weights)
    ours = masked_class_weight_cross_entropy(
        logits, label, class_weight=cw, ignore_index=255)
    ref = torch.nn.functional.cross_entropy(
        logits, label, weight=cw, ignore_index=255)
    torch.testing.assert_close(ours, ref)


def test_frozen_bn_statistics_with_random_weights_warn(log_records):
    """A config's norm_eval=True (BN statistics frozen, meant for pretrained
    weights) with pretrained=False: the adapter warns, naming the modules
    and the override, and changes nothing; with the config's weights it
    says nothing."""
    from mmfusion.models.task_adapters.task_adapter import frozen_norm_modules
    adapter = _adapter(
        cfg_path='mmdet::detectors/cascade-rcnn_r50-rfp_1x_coco.py')
    assert frozen_norm_modules(
        adapter.model) == ['backbone', 'neck.rfp_modules.0']
    assert adapter.model.backbone.norm_eval  # semantics unchanged
    warned = [r for r in log_records if 'norm_eval' in r.getMessage()]
    assert len(warned) == 1 and warned[0].levelname == 'WARNING'
    assert 'backbone, neck.rfp_modules.0' in warned[0].getMessage()
    assert 'norm_eval=False' in warned[0].getMessage()
    log_records.clear()
    _adapter(
        cfg_path='mmdet::retinanet/retinanet_r18_fpn_1x_coco.py',
        pretrained='init_cfg')
    assert not [r for r in log_records if 'norm_eval' in r.getMessage()]
    # a segmentor that trains its BN: nothing to say
    _adapter(cfg_path='mmseg::pspnet/pspnet_r18-d8_4xb2-80k_cityscapes-'
             '512x1024.py')
    assert not [r for r in log_records if 'norm_eval' in r.getMessage()]


def test_pvt_checkpoint_init_cfg_without_type_is_cleared(
        log_records, monkeypatch):
    """mmdet's PVT reads ``init_cfg.checkpoint`` itself (no ``type``): with
    pretrained=False it is cleared too, and init_weights fetches nothing
    (found by the zoo check: PVT tried to download its ImageNet weights)."""
    from mmengine.runner import checkpoint

    def no_fetch(*args, **kwargs):
        raise AssertionError(f'a download was attempted: {args}')

    for name in ('load_from_http', 'load_from_torchvision',
                 'load_from_openmmlab'):
        monkeypatch.setattr(checkpoint, name, no_fetch)
    cfg = ConfigDict(backbone=dict(init_cfg=dict(checkpoint='https://p.pth')))
    assert clear_pretrained(cfg) == ['backbone.init_cfg=https://p.pth']
    assert cfg.backbone.init_cfg is None
    det = _adapter(cfg_path='mmdet::pvt/retinanet_pvtv2-b0_fpn_1x_coco.py')
    assert 'backbone.init_cfg=https://github.com/whai362/PVT' in _logged(
        log_records)
    det.init_weights()


def test_detector_input_padded_to_the_pyramid_stride(log_records):
    """RTMDet's pipeline pads its images, so its preprocessor does not: the
    adapter pads the fused input to a multiple of 32, and TDFusion's default
    240 x 320 view (240 = 7.5 x 32) trains (CSPNeXt-PAFPN concatenates
    upsampled maps; it failed with 'Expected size 16 but got size 15')."""
    from mmdet.structures.bbox import HorizontalBoxes
    adapter = _adapter(
        cfg_path='mmdet::rtmdet/rtmdet_tiny_8xb32-300e_coco.py',
        model=dict(bbox_head=dict(num_classes=3)))
    assert adapter.model.data_preprocessor.pad_size_divisor == 32
    assert 'pad_size_divisor=None -> 32' in _logged(log_records) or \
        'pad_size_divisor=1 -> 32' in _logged(log_records)
    adapter.init_weights()
    adapter.train()
    sample = FusionDataSample(
        metainfo=dict(
            img_shape=(240, 320), ori_shape=(240, 320), scale_factor=(1., 1.)))
    sample.gt_instances = InstanceData(
        bboxes=HorizontalBoxes(torch.tensor([[20., 30., 120., 200.]])),
        labels=torch.tensor([1]))
    losses = adapter(
        torch.rand(1, 1, 240, 320), torch.rand(1, 2, 240, 320), [sample])
    total = sum(
        sum(v) if isinstance(v, list) else v for k, v in losses.items()
        if 'loss' in k)
    assert torch.isfinite(total)
