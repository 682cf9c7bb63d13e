"""Every shipped task-driven config builds and takes a real training step of
each of its phases (small real pairs, the configs' own task models)."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.logging import MessageHub
from mmengine.registry import init_default_scope

from mmfusion.registry import DATASETS, MODELS, OPTIM_WRAPPER_CONSTRUCTORS
from mmfusion.structures.phases import set_phase, spec_of

CONFIGS = {
    'configs/tdfusion/segformer_msrs.py': ('seg', ['meta', 'fusion']),
    'configs/tdfusion/deeplab_msrs.py': ('seg', ['fusion']),
    'configs/tdfusion/retinanet_msrs_det.py': ('det', ['fusion']),
    'configs/bdlfusion/bdlfusion_drdb_deeplabv3plus_msrs.py':
    ('seg', ['lower', 'upper']),
    'configs/bdlfusion/fcos_m3fd.py': ('det', ['lower']),
}


def _batches(msrs_mini, kind, n=2):
    init_default_scope('mmfusion')
    labels = [dict(type='mmseg.LoadAnnotations')] if kind == 'seg' else [
        dict(type='mmdet.LoadAnnotations', with_bbox=True, with_label=True)
    ]
    prefix = dict(ir='train/ir', vis='train/vi')
    prefix.update(seg='train/Segmentation_labels' if kind == 'seg' else None)
    if kind == 'det':
        prefix.pop('seg')
        prefix['det'] = 'train/Detection_labels'
    ds = DATASETS.build(
        dict(
            type='MSRSDataset',
            data_root=msrs_mini,
            data_prefix=prefix,
            indices=list(range(8)),
            pipeline=[
                dict(type='LoadPairedImageFromFile'), *labels,
                dict(type='mmdet.Resize', scale=(96, 72), keep_ratio=True),
                dict(type='PackFusionInputs')
            ]) if kind == 'det' else dict(
                type='MSRSDataset',
                data_root=msrs_mini,
                data_prefix=prefix,
                indices=list(range(8)),
                pipeline=[
                    dict(type='LoadPairedImageFromFile'), *labels,
                    dict(
                        type='RandomResize',
                        scale=(96, 72),
                        ratio_range=(1., 1.),
                        keep_ratio=True),
                    dict(type='PackFusionInputs')
                ]))
    return [pseudo_collate([ds[2 * i], ds[2 * i + 1]]) for i in range(n)]


@pytest.mark.parametrize('config', sorted(CONFIGS))
@pytest.mark.slow
def test_config_trains(repo_root, msrs_mini, config):
    kind, phases = CONFIGS[config]
    cfg = Config.fromfile(osp.join(repo_root, config))
    if cfg.model.type == 'TDFusion':
        cfg.model.fusion_crop_size = (32, 32)
        cfg.model.task_input_size = (64, 96) if kind == 'seg' else None
        cfg.model.swap_modalities = False
    init_default_scope('mmfusion')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)  # no init_weights: nothing downloaded
    ow_cfg = dict(cfg.optim_wrapper)
    ow = OPTIM_WRAPPER_CONSTRUCTORS.build(
        dict(type=ow_cfg.pop('constructor'), optim_wrapper_cfg=ow_cfg))(
            model)
    b1, b2 = _batches(msrs_mini, kind)
    hub = MessageHub.get_current_instance()
    hub.update_info('iter', 0)
    for phase in phases:
        set_phase(phase)
        data = [b1, b2] if spec_of(model.PHASES, phase).batches == 2 else b1
        log = model.train_step(data, ow)
        losses = [v for k, v in log.items() if 'loss' in k]
        assert losses and all(torch.isfinite(v).all() for v in losses), log
        assert log['nonfinite_skipped'] == 0
