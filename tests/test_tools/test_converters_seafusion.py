"""SeAFusion converter and official-weight parity.

The converted released weights must reproduce the published network's raw
fused Y (``reference/seafusion/raw_y``, 4 pairs) within 1e-5 and its saved
PNGs (``reference/seafusion/fused``) within one grey level, through the same
code path as ``tools/test.py configs/seafusion/seafusion_msrs.py``: dataset
pipeline, data preprocessor, ``FusionModel.predict`` and the save hook's
truncation. By default the PNGs of the 4 raw-Y pairs are compared; set
``MMFUSION_FULL_PARITY=1`` to compare all 39.

The released weights are in the shared test data only (the upstream
repository states no licence, so they are not bundled): without them the
key mapping and the command line are checked on a checkpoint of the same
layout with random values (``tests/data/seafusion_ref/official_keys.json``),
and the parity test is skipped (it fails under ``MMFUSION_REQUIRE_SHARED``).
"""
import json
import os
import os.path as osp
import runpy
import subprocess
import sys
from collections import OrderedDict

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import load_checkpoint

from mmfusion.models.utils.ckpt_convert import seafusion_convert
from mmfusion.registry import DATASETS, MODELS
from mmfusion.utils import register_all_modules, to_uint8

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
KEYS = osp.join(REPO, 'tests', 'data', 'seafusion_ref', 'official_keys.json')
TOOL = osp.join(REPO, 'tools', 'model_converters', 'seafusion2mmfusion.py')


def _layout():
    with open(KEYS) as f:
        return json.load(f)['state_dict']


@pytest.fixture(scope='module')
def official(find_test_data, tmp_path_factory):
    """``(path, released)``: the released weights (``../shared``), else a
    checkpoint of their exact layout with random values."""
    found = find_test_data('seafusion_weights', optional=True)
    if found is not None:
        return found.path, True
    gen = torch.Generator().manual_seed(0)
    state = OrderedDict(
        (name, torch.randn(shape, generator=gen) if dtype ==
         'float32' else torch.zeros(shape, dtype=getattr(torch, dtype)))
        for name, (shape, dtype) in _layout().items())
    path = str(tmp_path_factory.mktemp('official') / 'seafusion_random.pth')
    torch.save(state, path)
    return path, False


@pytest.fixture(scope='module')
def converted(official, tmp_path_factory):
    dst = str(tmp_path_factory.mktemp('ckpt') / 'seafusion_msrs.pth')
    proc = subprocess.run([sys.executable, TOOL, official[0], dst],
                          capture_output=True,
                          text=True,
                          cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert '20 unused BatchNorm entries dropped' in proc.stdout
    return dst


def test_bundled_layout_is_the_released_one(official):
    path, released = official
    state = torch.load(path, map_location='cpu', weights_only=True)
    assert {
        k: [list(v.shape), str(v.dtype)[len('torch.'):]]
        for k, v in state.items()
    } == _layout()
    if not released:
        pytest.skip('released weights not found (../shared): the bundled '
                    'layout is compared with itself')


def test_converter_maps_every_official_layer(official):
    official = torch.load(official[0], map_location='cpu', weights_only=True)
    state = seafusion_convert(official)
    assert len(state) == 52
    assert torch.equal(state['ir_grdb2.sobel.weight_y'],
                       official['inf_rgbd2.sobelconv.convy.weight'])
    assert torch.equal(state['vis_grdb1.dense_proj.weight'],
                       official['vis_rgbd1.convdown.conv.weight'])
    assert torch.equal(state['head.bias'], official['decode1.conv.bias'])
    # a key of another architecture is refused, with its name
    bad = dict(official, **{'extra.weight': torch.zeros(1)})
    with pytest.raises(KeyError, match='extra.weight'):
        seafusion_convert(bad)


@pytest.mark.slow
def test_converted_checkpoint_loads_into_the_config_model(converted):
    register_all_modules()
    cfg = Config.fromfile(
        osp.join(REPO, 'configs', 'seafusion', 'seafusion_msrs.py'))
    model = MODELS.build(cfg.model)
    load_checkpoint(model, converted, map_location='cpu', strict=True)


def test_converter_cli_reports_bad_input(tmp_path, monkeypatch):
    bogus = tmp_path / 'not_a_checkpoint.pth'
    bogus.write_text('hello')
    monkeypatch.setattr(
        sys, 'argv',
        ['seafusion2mmfusion.py',
         str(bogus),
         str(tmp_path / 'out.pth')])
    with pytest.raises(RuntimeError, match='not_a_checkpoint.pth'):
        runpy.run_path(TOOL, run_name='__main__')
    monkeypatch.setattr(sys, 'argv', [
        'seafusion2mmfusion.py',
        str(tmp_path / 'missing.pth'),
        str(tmp_path / 'out.pth')
    ])
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        runpy.run_path(TOOL, run_name='__main__')


def _names(sea_ref):
    raw = sorted(f[:-4] for f in os.listdir(osp.join(sea_ref, 'raw_y')))
    if os.environ.get('MMFUSION_FULL_PARITY'):
        png = sorted(f[:-4] for f in os.listdir(osp.join(sea_ref, 'fused')))
        return raw, png
    return raw, raw


@pytest.mark.shared_data
@pytest.mark.slow
def test_official_weights_parity(official, converted, find_test_data):
    find_test_data('seafusion_weights')  # skips without the released ones
    assert official[1]
    sea_ref = find_test_data('seafusion').path
    msrs_mini = find_test_data('msrs_mini').path
    register_all_modules()
    cfg = Config.fromfile(
        osp.join(REPO, 'configs', 'seafusion', 'seafusion_msrs.py'))
    model = MODELS.build(cfg.model).eval()
    load_checkpoint(model, converted, map_location='cpu', strict=True)
    dataset_cfg = cfg.test_dataloader.dataset
    dataset_cfg.data_root = msrs_mini
    dataset = DATASETS.build(dataset_cfg)
    index = {
        osp.splitext(osp.basename(dataset.get_data_info(i)['ir_path']))[0]: i
        for i in range(len(dataset))
    }
    rounding = [
        h for h in cfg.custom_hooks if h['type'] == 'FusedImageSaveHook'
    ][0]['rounding']
    raw_names, png_names = _names(sea_ref)
    worst_raw, worst_png = 0., 0
    for name in png_names:
        data = model.data_preprocessor(
            dict(
                inputs=[dataset[index[name]]['inputs']],
                data_samples=[dataset[index[name]]['data_samples']]))
        with torch.no_grad():
            sample = model.predict(**data)[0]
        if name in raw_names:
            ref = np.load(osp.join(sea_ref, 'raw_y', f'{name}.npy'))
            diff = np.abs(sample.pred_fused_y.data[0].numpy() - ref).max()
            worst_raw = max(worst_raw, float(diff))
        ours = to_uint8(sample.pred_fused.data, rounding).astype(int)
        official = cv2.imread(osp.join(sea_ref, 'fused', f'{name}.png'))
        official = official[..., ::-1].astype(int)
        worst_png = max(worst_png, int(np.abs(ours - official).max()))
    print(f'\nparity: {len(png_names)} PNGs, raw Y max abs diff '
          f'{worst_raw:.3g}, PNG max diff {worst_png} grey levels')
    assert worst_raw <= 1e-5, f'raw Y differs by {worst_raw}'
    assert worst_png <= 1, f'PNG differs by {worst_png} grey levels'
