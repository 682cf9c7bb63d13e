"""TarDAL converter and official-path parity.

Bundled (``tests/data/tardal``, runs on a bare clone): the official
``Generator`` and test path (JinyuanLiu-CV/TarDAL ``8ef276f``, run unchanged
outside this repository) on two 64x96 crops of bundled MSRS pairs with a
seeded random ``Generator(dim=8)``, in both BatchNorm modes of the upstream
``fuse.py`` (``--eval``: running statistics; without: each image's own).
Converted with ``tools/model_converters/tardal2mmfusion.py`` and run through
``configs/tardal/*_official_msrs.py`` and :class:`FusionInferencer` (what
``tools/fuse.py`` runs), it must give the official raw output within 1e-5
(per-image BatchNorm statistics: 1e-4, see RAW_TOLERANCE) and the official
PNGs within one grey level.

Shared (``../shared/reference/tardal``): the three released checkpoints
(not bundled: no tree that holds them states a licence) against the outputs
of the official test path; by default on the 3 pairs with a raw reference,
all 39 with ``MMFUSION_FULL_PARITY=1``.
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

from mmfusion.apis import FusionInferencer
from mmfusion.models.utils.ckpt_convert import (tardal_convert,
                                                tardal_generator_state)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DATA = osp.join(REPO, 'tests', 'data', 'tardal')
TOOL = osp.join(REPO, 'tools', 'model_converters', 'tardal2mmfusion.py')
CONFIGS = osp.join(REPO, 'configs', 'tardal')
# upstream mode -> config (the BatchNorm statistics each one uses)
MODE_CONFIG = {
    'train': 'tardal_official_msrs.py',  # per-image statistics
    'eval': 'tardal_official_benchmark_msrs.py',  # running statistics
}

# of the raw output against the official one. With each image's own
# BatchNorm statistics (train) the small variances of the random dim-8 net
# amplify float32 rounding: the bundled references (made on an AVX-512 CPU)
# are met within 1e-5 there, but on an AVX2-only AMD EPYC the difference is
# 3.1e-5 to 3.6e-5 whatever the thread count and with oneDNN on or off
# (measured 2026-12-07), the PNGs still within one grey level. The released
# checkpoints (test_released_weights_parity) keep 1e-5 everywhere.
RAW_TOLERANCE = {'train': 1e-4, 'eval': 1e-5}


def _convert(src, dst):
    proc = subprocess.run([sys.executable, TOOL, src, dst],
                          capture_output=True,
                          text=True,
                          cwd=REPO,
                          env=dict(os.environ, PYTHONPATH=REPO))
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _inferencer(config, ckpt, **net):
    cfg = Config.fromfile(osp.join(CONFIGS, config))
    cfg.model.fusion_net.update(net)
    return FusionInferencer(cfg, ckpt, device='cpu', show_progress=False)


def _compare(fuser, ref_dir, names, ir_dir, vi_dir, raw_dir=None):
    """(max |raw - official raw| where a raw reference exists, max PNG
    difference) over ``names``."""
    worst_raw, worst_png = 0., 0
    out = fuser([osp.join(ir_dir, f'{n}.png') for n in names],
                [osp.join(vi_dir, f'{n}.png') for n in names],
                rounding='floor')
    for name, pred in zip(names, out['predictions']):
        official = cv2.imread(osp.join(ref_dir, f'{name}.png'))[..., ::-1]
        diff = np.abs(pred['fused'].astype(int) - official.astype(int))
        worst_png = max(worst_png, int(diff.max()))
        raw_path = raw_dir and osp.join(raw_dir, f'{name}.npy')
        if raw_path and osp.exists(raw_path):
            ref = np.clip(np.load(raw_path), 0, 1)  # fused_y is clipped
            worst_raw = max(worst_raw,
                            float(np.abs(pred['fused_y'] - ref).max()))
    return worst_raw, worst_png


@pytest.fixture(scope='module')
def bundled_ckpt(tmp_path_factory):
    dst = str(tmp_path_factory.mktemp('tardal') / 'random_dim8.pth')
    out = _convert(osp.join(DATA, 'official_random_dim8.pt'), dst)
    assert 'TarDALGenerator(dim=8, depth=3)' in out
    return dst


@pytest.mark.parametrize('mode', ['train', 'eval'])
@pytest.mark.slow
def test_bundled_official_path_parity(bundled_ckpt, mode):
    names = sorted(f[:-4] for f in os.listdir(osp.join(DATA, 'ir')))
    fuser = _inferencer(MODE_CONFIG[mode], bundled_ckpt, dim=8)
    raw_dir = osp.join(DATA, 'raw', mode)
    worst_raw, worst_png = _compare(fuser, osp.join(DATA, 'fused', mode),
                                    names, osp.join(DATA, 'ir'),
                                    osp.join(DATA, 'vi'), raw_dir)
    assert worst_raw <= RAW_TOLERANCE[mode], worst_raw
    assert worst_png <= 1, worst_png
    # the unclipped generator output (negative values included)
    model = fuser.model
    for name in names:
        bgr = cv2.imread(osp.join(DATA, 'vi', f'{name}.png'))
        ir = cv2.imread(osp.join(DATA, 'ir', f'{name}.png'), 0)[..., None]
        packed = torch.from_numpy(np.concatenate([bgr, ir], -1))
        data = model.data_preprocessor(dict(inputs=[packed.permute(2, 0, 1)]))
        with torch.no_grad():
            raw = model.fusion_net(data['inputs']['ir'],
                                   data['inputs']['vis_y'])[0, 0].numpy()
        ref = np.load(osp.join(raw_dir, f'{name}.npy'))
        assert ref.min() < 0
        assert np.abs(raw - ref).max() <= RAW_TOLERANCE[mode]


def test_bundled_parity_needs_the_authors_bn_mode(bundled_ckpt):
    """The other BatchNorm mode does not reproduce a mode's outputs (the
    test can fail)."""
    names = sorted(f[:-4] for f in os.listdir(osp.join(DATA, 'ir')))
    fuser = _inferencer(MODE_CONFIG['eval'], bundled_ckpt, dim=8)
    _, worst_png = _compare(fuser, osp.join(DATA, 'fused', 'train'), names,
                            osp.join(DATA, 'ir'), osp.join(DATA, 'vi'))
    assert worst_png > 10


def _random_released_layout():
    with open(osp.join(DATA, 'released_layout.json')) as f:
        layout = json.load(f)['state_dict']
    gen = torch.Generator().manual_seed(0)
    return OrderedDict(
        (k, torch.randn(shape, generator=gen) if dtype ==
         'float32' else torch.zeros(shape, dtype=getattr(torch, dtype)))
        for k, (shape, dtype) in layout.items())


def test_converter_maps_every_released_tensor():
    official = _random_released_layout()
    assert len(official) == 46
    state = tardal_convert(official)
    assert len(state) == 46
    assert torch.equal(state['decoder.1.bn.running_var'],
                       official['fuse.1.1.running_var'])
    assert torch.equal(state['head.weight'], official['fuse.3.0.weight'])
    assert torch.equal(state['dense.2.conv.bias'], official['dense.2.0.bias'])
    with pytest.raises(KeyError, match='extra.weight'):
        tardal_convert(dict(official, **{'extra.weight': torch.zeros(1)}))
    # training checkpoints: v0 ('g'), v1.0 ('fuse' with use_eval)
    assert tardal_generator_state(dict(g=official, d={}))[1] is None
    state, use_eval = tardal_generator_state(
        dict(fuse=dict(official, use_eval=False)))
    assert use_eval is False and len(state) == 46


def test_converter_cli_reports_bad_input(tmp_path, monkeypatch):
    bogus = tmp_path / 'not_a_checkpoint.pt'
    bogus.write_text('hello')
    for src, error in ((bogus, RuntimeError), (tmp_path / 'missing.pt',
                                               FileNotFoundError)):
        monkeypatch.setattr(
            sys, 'argv',
            ['tardal2mmfusion.py',
             str(src),
             str(tmp_path / 'out.pth')])
        with pytest.raises(error, match=src.name):
            runpy.run_path(TOOL, run_name='__main__')


def _released_names(ref):
    raw = sorted(f[:-4] for f in os.listdir(osp.join(ref, 'raw', 'tardal')))
    if os.environ.get('MMFUSION_FULL_PARITY'):
        return sorted(f[:-4]
                      for f in os.listdir(osp.join(ref, 'fused', 'tardal')))
    return raw


@pytest.mark.slow
@pytest.mark.shared_data
@pytest.mark.parametrize('weights,config', [
    ('tardal', 'tardal_official_benchmark_msrs.py'),
    ('tardal+', 'tardal_plus_official_msrs.py'),
    ('tardal++', 'tardal_plusplus_official_msrs.py'),
])
def test_released_weights_parity(weights, config, find_test_data, tmp_path):
    ref = find_test_data('tardal').path
    msrs = find_test_data('msrs_mini').path
    ckpt = str(tmp_path / f'{weights}.pth')
    _convert(osp.join(ref, 'weights', f'{weights}.pt'), ckpt)
    names = _released_names(ref)
    worst_raw, worst_png = _compare(
        _inferencer(config, ckpt), osp.join(ref, 'fused', weights), names,
        osp.join(msrs, 'test', 'ir'), osp.join(msrs, 'test', 'vi'),
        osp.join(ref, 'raw', weights))
    print(f'\n{weights}: {len(names)} pairs, raw max abs diff '
          f'{worst_raw:.3g}, PNG max diff {worst_png} grey levels')
    assert worst_raw <= 1e-5, worst_raw
    assert worst_png <= 1, worst_png
