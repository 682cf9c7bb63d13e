# Copyright (c) mmfusion contributors. All rights reserved.
"""Regression tests of mmfusion.models.task_adapters.zoo (the library of
tools/analysis_tools/check_task_zoo.py): its config overrides model what a
user writes, and each family is checked as the Runner would train it
(initialised weights); the tool resumes from its JSON."""
import json
import os.path as osp
import subprocess
import sys

import pytest
import torch

from mmfusion.models.task_adapters import zoo as zoo_module

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(scope='module')
def zoo():
    return zoo_module


def _model_cfg(name):
    from mmfusion.models.task_adapters.task_adapter import _get_config
    return _get_config(name, False).model


def test_panoptic_class_weight_follows_things_and_stuff(zoo):
    """MaskFormer's loss_cls.class_weight has 80 things + 53 stuff + 1
    background entries (no num_classes=133 anywhere): set to n + 1."""
    over = zoo.num_classes_overrides(
        _model_cfg('mmdet::maskformer/maskformer_r50_ms-16xb1-75e_coco.py'), 3)
    head = over['panoptic_head']
    assert head['num_things_classes'] == 3
    assert head['num_stuff_classes'] == 0
    assert head['loss_cls']['class_weight'] == [1.0, 1.0, 1.0, 0.1]


def test_train_norm_overrides_every_frozen_bn(zoo):
    """DetectoRS: norm_eval=False for the backbone and the RFP's second
    backbone (neck.rfp_backbone), only for the families in TRAIN_NORM."""
    cfg = _model_cfg('mmdet::detectors/cascade-rcnn_r50-rfp_1x_coco.py')
    assert ('mmdet', 'detectors') in zoo.TRAIN_NORM
    over = zoo.num_classes_overrides(cfg, 3, train_norm=True)
    assert over['backbone']['norm_eval'] is False
    assert over['neck']['rfp_backbone']['norm_eval'] is False
    assert 'norm_eval' not in zoo.num_classes_overrides(cfg,
                                                        3).get('backbone', {})


def test_train_norm_overrides_a_class_default_frozen_bn(zoo):
    """mmdet's HRNet freezes BN by its constructor's default
    (norm_eval=True), not in the config: the override still sets it, and the
    built task trains its BN statistics."""
    cfg = _model_cfg('mmdet::hrnet/faster-rcnn_hrnetv2p-w18-1x_coco.py')
    assert 'norm_eval' not in cfg.backbone
    assert ('mmdet', 'hrnet') in zoo.TRAIN_NORM
    assert zoo.default_arg(cfg.backbone.type, 'norm_eval') is True
    assert zoo.default_arg('mmseg.ResNet', 'norm_eval') is False
    assert zoo.num_classes_overrides(
        cfg, 3, train_norm=True)['backbone']['norm_eval'] is False
    assert 'norm_eval' not in zoo.num_classes_overrides(cfg,
                                                        3).get('backbone', {})


def test_build_initialises_weights_as_the_runner(zoo):
    """The check builds each family as the Runner trains it: the configs'
    own initialisation (init_weights) is applied."""
    model, _ = zoo.build('seafusion', 'mmdet',
                         'retinanet/retinanet_r18_fpn_1x_coco.py')
    assert model.task.model.is_init
    # RetinaNet's classifier bias prior (init_cfg: Normal, bias_prob=0.01)
    bias = model.task.model.bbox_head.retina_cls.bias
    assert torch.allclose(bias, torch.full_like(bias, -4.59512), atol=1e-4)


def test_uninitialised_parameters_are_found_deterministically(zoo):
    """TridentNet's TridentConv allocates its weight empty
    (torch.Tensor(...)); mmengine's init_weights never reaches it (its
    layers are a plain nn.Sequential), so random init leaves it whatever
    memory it got: in one process of the check, the NaNs a previous family
    freed (TridentNet failed after DetectoRS, passed alone). The check makes
    such memory NaN while building and names the parameters."""
    with pytest.raises(RuntimeError, match='uninitialised') as e:
        zoo.build('seafusion', 'mmdet',
                  'tridentnet/tridentnet_r50-caffe_1x_coco.py')
    assert 'backbone.layer3.0.conv2.weight' in str(e.value)
    assert 'TridentConv of mmdet.models.backbones.trident_resnet' in str(
        e.value)
    # the global switches are restored
    assert not torch.are_deterministic_algorithms_enabled()


@pytest.mark.slow  # ~46 s on the shared 2-core machine
def test_ddod_input_size(zoo):
    """DDOD's head has a deformable conv (DeformConv2dPack) on P7: mmcv
    rejects a P7 under its 3x3 kernel (240x320: 2x3), so the check gives
    it at least 288x384 (P7: 3x3)."""
    from mmengine.registry import init_default_scope

    from mmfusion.registry import MODELS
    init_default_scope('mmfusion')
    adapter = MODELS.build(
        dict(
            type='TaskAdapter',
            cfg_path='mmdet::ddod/ddod_r50_fpn_1x_coco.py',
            model=dict(bbox_head=dict(num_classes=3))))
    adapter.init_weights()
    adapter.eval()
    h, w = zoo.MIN_INPUT[('mmdet', 'ddod')]
    y = torch.rand(1, 1, h, w)
    cbcr = torch.full((1, 2, h, w), 0.5)
    with torch.no_grad():
        outs = adapter(y, cbcr, None, mode='tensor')
        assert outs[0][-1].shape[-2:] == (3, 3)
        with pytest.raises(RuntimeError, match='smaller than kernel'):
            adapter(
                y[..., :240, :320], cbcr[..., :240, :320], None, mode='tensor')


def test_min_input_enlarges_tdfusion_default_task_view(zoo):
    """LR-ASPP (mobilenet_v3) needs 480x640: TDFusion's task view is
    enlarged to it also when it is the config's default (240x320, no
    --task-input-size), not only when given on the command line."""
    least = zoo.MIN_INPUT[('mmseg', 'mobilenet_v3')]
    config = {f: c for f, c, _ in zoo.families('mmseg')}['mobilenet_v3']
    model, _ = zoo.build('tdfusion', 'mmseg', config, min_input=least)
    assert tuple(model.task_input_size) == least
    model, _ = zoo.build(
        'tdfusion',
        'mmseg',
        config,
        task_input_size=(96, 128),
        min_input=least)
    assert tuple(model.task_input_size) == least


def test_each_family_has_its_own_message_hub(zoo, monkeypatch):
    """The strategies keep runtime info in the current message hub (phase,
    iterations, the non-finite guard's counts): one family's must not be
    the next one's."""
    from mmengine.logging import MessageHub
    seen = []

    def build(*args, **kwargs):
        hub = MessageHub.get_current_instance()
        seen.append((hub.instance_name, dict(hub.runtime_info)))
        hub.update_info('nonfinite_guard', dict(skipped=1))
        raise RuntimeError('stop')

    monkeypatch.setattr(zoo, 'build', build)
    for family in ('a', 'b'):
        row = zoo.check('seafusion', 'mmdet', family, 'x.py', timeout=60)
        assert row['status'] == 'fail' and 'stop' in row['cause']
    assert seen[0][0] != seen[1][0]
    assert seen[1][1] == {}


def test_select_family_names(zoo):
    """Folder names, 'package:folder', and an unknown name is an error (the
    tool exits with it)."""
    rows = zoo.select(['pspnet', 'mmdet:yolox'])
    assert [(p, f) for p, f, _, _ in rows] == [('mmseg', 'pspnet'),
                                               ('mmdet', 'yolox')]
    assert all(c.startswith(f + '/') for _, f, c, _ in rows)
    with pytest.raises(ValueError, match=r"unknown families: \['nope'\]"):
        zoo.select(['pspnet', 'nope'])


@pytest.mark.slow
def test_tool_resumes_from_its_json(zoo, tmp_path):
    """check_task_zoo.py --out: a family already in the file is not run
    again, the file keeps every row (also those of families not selected),
    new rows follow, and the run's settings are recorded."""
    out = str(tmp_path / 'zoo.json')
    done = dict(
        family='pspnet',
        package='mmseg',
        config='pspnet/x.py',
        status='pass',
        seconds=12.0,
        losses={})
    other = dict(
        family='yolox',
        package='mmdet',
        config='yolox/y.py',
        status='fail',
        seconds=3.0,
        cause='RuntimeError: x [mmdet/a.py:1]')
    zoo.write_results(out, 'seafusion', [done, other])
    proc = subprocess.run([
        sys.executable, 'tools/analysis_tools/check_task_zoo.py', '--strategy',
        'seafusion', '--families', 'pspnet', 'dsdl', '--out', out
    ],
                          cwd=REPO,
                          capture_output=True,
                          text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "seafusion: {'pass': 1, 'fail': 0, 'skip': 2}" in proc.stdout
    assert '| pspnet | pspnet/x.py | pass | 12.0 |  |' in proc.stdout
    with open(out) as f:
        data = json.load(f)
    assert data['strategy'] == 'seafusion'
    assert data['settings'] == dict(
        fusion_nets='narrow', pair_size=[320, 240], task_input_size=None)
    rows = [(r['package'], r['family'], r['status']) for r in data['rows']]
    assert rows == [('mmseg', 'pspnet', 'pass'), ('mmdet', 'yolox', 'fail'),
                    ('mmseg', 'dsdl', 'skip'), ('mmdet', 'dsdl', 'skip')]
    assert data['rows'][0] == done and data['rows'][1] == other
    # the combined table of the strategies' files
    table = zoo.combined_table([out])
    assert '| mmseg | pspnet | `pspnet/x.py` | pass 12 s |  |' in table
    assert 'seafusion: 1 pass, 1 fail (0 min)' in table
    assert 'Skipped: mmseg `dsdl` (dataset-only folder' in table
