"""docs/customize.md as written: every code block that starts with
``# file: PATH`` is written to a temporary project (the ``my_fusion`` package
on PYTHONPATH; the configs in a ``configs/my_fusion/`` folder beside links to
the shipped configs they inherit), the components are built from the configs
through ``custom_imports``, and both configs train a few iterations with
``tools/train.py`` on the bundled demo pairs."""
import json
import os
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmfusion.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
GUIDE = osp.join(REPO, 'docs', 'customize.md')


def _guide_files():
    text = open(GUIDE, encoding='utf-8').read()
    files = {}
    for block in re.findall(r'```python\n(.*?)```', text, flags=re.S):
        first = block.split('\n', 1)[0]
        if first.startswith('# file: '):
            files[first[len('# file: '):].strip()] = block
    return files


@pytest.fixture(scope='module')
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp('customize')
    files = _guide_files()
    assert sorted(files) == [
        'configs/my_fusion/alternating_demo.py',
        'configs/my_fusion/tiny_fusion_demo.py', 'my_fusion/__init__.py',
        'my_fusion/losses.py', 'my_fusion/nets.py', 'my_fusion/strategies.py',
        'my_fusion/tasks.py'
    ]
    for rel, text in files.items():
        base = root / 'configs_root' if rel.startswith('configs/') else \
            root / 'my_project'
        path = base / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    # the guide's configs live next to the shipped ones
    for name in ('_base_', 'seafusion'):
        os.symlink(
            osp.join(REPO, 'configs', name),
            root / 'configs_root' / 'configs' / name)
    return root


def _config(project, name):
    return str(project / 'configs_root' / 'configs' / 'my_fusion' / name)


def test_components_build_from_configs(project, monkeypatch):
    monkeypatch.syspath_prepend(str(project / 'my_project'))
    # custom_imports imports my_fusion, which registers the components
    cfg = Config.fromfile(_config(project, 'alternating_demo.py'))
    init_default_scope('mmfusion')
    model = MODELS.build(cfg.model)
    assert type(model).__name__ == 'AlternatingFusion'
    assert type(model.fusion_net).__name__ == 'TinyFusionNet'
    assert type(model.task.model.decode_head).__name__ == 'TinySegHead'
    ir, vis_y = torch.rand(2, 1, 32, 32), torch.rand(2, 1, 32, 32)
    fused = model.fusion_net(ir, vis_y)
    assert fused.shape == (2, 1, 32, 32)
    assert 0 <= fused.min() and fused.max() <= 1
    cfg = Config.fromfile(_config(project, 'tiny_fusion_demo.py'))
    model = MODELS.build(cfg.model)
    terms = model.compute_fusion_loss(fused, dict(ir=ir, vis_y=vis_y))
    assert sorted(terms) == ['loss_int', 'loss_mean', 'loss_texture']
    assert torch.allclose(terms['loss_mean'],
                          0.5 * (fused - (ir + vis_y) / 2).abs().mean())


def _train(project, config, work_dir, *options):
    env = dict(
        os.environ,
        OMP_NUM_THREADS='1',
        PYTHONPATH=os.pathsep.join(
            [str(project / 'my_project'),
             os.environ.get('PYTHONPATH', '')]))
    subprocess.run([
        sys.executable, 'tools/train.py', config, '--work-dir',
        str(work_dir), *options
    ],
                   cwd=REPO,
                   env=env,
                   check=True,
                   capture_output=True,
                   text=True)
    (log, ) = [
        osp.join(work_dir, d, 'vis_data', f'{d}.json')
        for d in os.listdir(work_dir) if re.fullmatch(r'\d{8}_\d{6}', d)
    ]
    return [json.loads(line) for line in open(log)]


@pytest.mark.slow
def test_tiny_fusion_demo_trains(project, tmp_path):
    entries = _train(project, _config(project, 'tiny_fusion_demo.py'),
                     tmp_path / 'wd', '--cfg-options', 'train_cfg.max_iters=4',
                     'train_cfg.val_interval=4',
                     'default_hooks.logger.interval=2')
    train = [e for e in entries if 'iter' in e]
    assert [e['iter'] for e in train] == [2, 4]
    assert {'loss_int', 'loss_texture', 'loss_mean'} <= set(train[-1])
    (val, ) = [e for e in entries if 'iter' not in e]
    assert 'fusion/VIF' in val


@pytest.mark.slow
def test_alternating_demo_trains(project, tmp_path):
    entries = _train(project, _config(project, 'alternating_demo.py'),
                     tmp_path / 'wd')
    train = [e for e in entries if 'iter' in e]
    assert [e['iter'] for e in train] == [2, 4, 6, 8]
    # phase 'fusion' at iterations 1-2 and 5-6, 'task' at 3-4 and 7-8
    assert 'fusion.task_decode.loss_ce' in train[0]
    assert 'task.decode.loss_ce' in train[1]
    assert train[-1]['nonfinite_skipped'] == 0
