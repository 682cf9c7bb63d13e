# Copyright (c) mmfusion contributors. All rights reserved.
"""The task-free twins of the task-gain experiment (issue 23): each differs
from its method's config only where the task-driven part is taken out,
starts its fusion net from the same weights under the same seed, and
trains."""
import copy
import os
import os.path as osp

import cv2
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(REPO, 'data', 'msrs_demo')

# what taking out the task-driven part may change, per twin (dotted key
# paths; a path covers its whole subtree). Without a task the task's
# optimiser goes, and so does the task metric in validation.
NO_TASK = {
    'model.task', 'model.task_driven', 'optim_wrapper.task', 'val_evaluator',
    'test_evaluator'
}
ALLOWED = {
    'tdfusion': NO_TASK | {
        # fixed, equal weights instead of the learned loss generator
        'model.loss_generator',
        'optim_wrapper.loss_generator'
    },
    'bdlfusion': NO_TASK | {
        # eta tied to the remaining follower's lr (the same schedule)
        'model.eta'
    },
    'seafusion': NO_TASK | {
        'model.semantic_weights',  # beta_r = 0
        'default_hooks.param_scheduler.phases.task'
    },
    'tardal': NO_TASK | {
        # the detector's loss reaching the generator (paper mode)
        'model.task_to_fusion',
        'param_scheduler.task'
    },
}
# method config -> what its twin (<method>_twin.py) may change
TWINS = {
    f'{method}_{size}': ALLOWED[method.split('_')[0]]
    for method in ('tdfusion_r18', 'bdlfusion_r18', 'seafusion_joint_r18')
    for size in ('160x120', '320x240')
}
TWINS['tardal_r18_160x120'] = ALLOWED['tardal']
# the published-scale twins of task_gain_msrs_gpu.py:
# configs/task_gain/<twin>.py -> (the method's config, what may change)
PUBLISHED_TWINS = {
    'tdfusion_segformer_msrs_twin':
    ('../tdfusion/segformer_msrs.py', ALLOWED['tdfusion']),
    'bdlfusion_drdb_deeplabv3plus_msrs_twin':
    ('../bdlfusion/bdlfusion_drdb_deeplabv3plus_msrs.py',
     ALLOWED['bdlfusion']),
    'seafusion_joint_msrs_twin':
    ('../seafusion/seafusion_joint_msrs.py', ALLOWED['seafusion']),
    'tardal_retinanet_msrs_twin':
    ('../tardal/tardal_retinanet_msrs.py', ALLOWED['tardal']),
}


def diff_keys(a, b, prefix=''):
    """Dotted paths where two plain (to_dict) configs differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b), key=str):
            path = f'{prefix}.{key}' if prefix else str(key)
            if key not in a or key not in b:
                out.append(path)
            else:
                out += diff_keys(a[key], b[key], path)
        return out
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and \
            len(a) == len(b):
        out = []
        for i, (x, y) in enumerate(zip(a, b)):
            out += diff_keys(x, y, f'{prefix}[{i}]')
        return out
    return [] if a == b else [prefix]


def _allowed(path, allowed):
    return any(
        path == p or path.startswith(p + '.') or path.startswith(p + '[')
        for p in allowed)


def _load(name):
    return Config.fromfile(osp.join(REPO, 'configs', 'task_gain', name))


@pytest.mark.parametrize('method', sorted(TWINS))
def test_twin_differs_only_in_the_task_driven_part(method):
    cfg = _load(f'{method}.py').to_dict()
    twin = _load(f'{method}_twin.py').to_dict()
    allowed = TWINS[method]
    extra = [p for p in diff_keys(cfg, twin) if not _allowed(p, allowed)]
    assert not extra, f'{method}_twin differs from {method} in {extra}'
    # every allowed difference is there (the twin is task-free)
    assert twin['model']['task'] is None
    assert twin['model']['task_driven'] is False
    assert 'task' not in twin['optim_wrapper']


@pytest.mark.parametrize('twin', sorted(PUBLISHED_TWINS))
def test_published_twin_differs_only_in_the_task_driven_part(twin):
    method, allowed = PUBLISHED_TWINS[twin]
    cfg = _load(method).to_dict()
    twin_cfg = _load(f'{twin}.py').to_dict()
    extra = [p for p in diff_keys(cfg, twin_cfg) if not _allowed(p, allowed)]
    assert not extra, f'{twin} differs from {method} in {extra}'
    assert twin_cfg['model']['task'] is None
    assert twin_cfg['model']['task_driven'] is False
    assert 'task' not in twin_cfg['optim_wrapper']
    if twin.startswith('bdlfusion'):  # eta: the same lr as in the method
        cfg = _load(method)
        assert cfg.model.eta == 'task'
        assert cfg.optim_wrapper.task == cfg.optim_wrapper.discriminator
        assert cfg.param_scheduler.task == cfg.param_scheduler.discriminator


def test_diff_keys_finds_a_stray_difference():
    cfg = _load('seafusion_joint_r18_160x120_twin.py').to_dict()
    other = copy.deepcopy(cfg)
    other['param_scheduler']['fusion_net'][0]['gamma'] = 0.5
    other['train_cfg']['phases'][0]['iters'] += 1
    assert diff_keys(cfg, other) == [
        'param_scheduler.fusion_net[0].gamma', 'train_cfg.phases[0].iters'
    ]
    assert not _allowed('param_scheduler.fusion_net[0].gamma',
                        TWINS['seafusion_joint_r18_160x120'])


@pytest.mark.parametrize('size', ['160x120', '320x240'])
def test_bdlfusion_twin_keeps_the_leader_lr(size):
    """eta follows the task's lr in the method and the discriminator's in
    the twin: the same values only while both followers share a
    schedule."""
    cfg = _load(f'bdlfusion_r18_{size}.py')
    assert cfg.model.eta == 'task'
    assert cfg.optim_wrapper.task == cfg.optim_wrapper.discriminator
    assert cfg.param_scheduler.task == cfg.param_scheduler.discriminator


# ---------------------------------------------------------------- training
def _tiny_data(root):
    """data/msrs_demo (8 train / 4 test pairs) at 160 x 120."""
    for split in ('train', 'test'):
        for sub in ('ir', 'vi', 'Segmentation_labels'):
            src = osp.join(DEMO, split, sub)
            dst = osp.join(root, split, sub)
            os.makedirs(dst, exist_ok=True)
            for name in sorted(os.listdir(src)):
                img = cv2.imread(osp.join(src, name), cv2.IMREAD_UNCHANGED)
                interp = cv2.INTER_NEAREST if sub.startswith('Seg') \
                    else cv2.INTER_AREA
                cv2.imwrite(
                    osp.join(dst, name),
                    cv2.resize(img, (160, 120), interpolation=interp))
    return root


def _set_data_root(node, root):
    if isinstance(node, dict):
        if 'data_root' in node and 'type' in node:
            node['data_root'] = root
        for v in node.values():
            _set_data_root(v, root)
    elif isinstance(node, list):
        for v in node:
            _set_data_root(v, root)


SHORT = {
    'tdfusion_r18_160x120':
    dict(
        phases=[
            dict(name='meta', iters=1, batches_per_iter=2),
            dict(name='fusion', iters=1)
        ],
        max_iters=2),
    'bdlfusion_r18_160x120':
    dict(
        phases=[
            dict(name='lower', iters=1),
            dict(name='upper', iters=1, extra_batches=dict(upper=1))
        ],
        max_iters=2),
    # two rounds of one fusion and one task iteration: round 1 re-initialises
    'seafusion_joint_r18_160x120':
    dict(
        phases=[
            dict(name='fusion', iters=1),
            dict(
                name='task',
                iters=1,
                batches_per_iter=0,
                extra_batches=dict(task=1))
        ],
        max_iters=4),
}


class _Stop(Exception):
    pass


class _Capture(Hook):
    """Records the fusion net's weights when training starts (after the
    initialisation and any loading) and after each iteration."""
    priority = 'VERY_LOW'

    def __init__(self, stop=False):
        self.stop = stop
        self.states = []
        self.logs = []

    def _record(self, runner):
        self.states.append({
            k: v.detach().clone()
            for k, v in runner.model.fusion_net.state_dict().items()
        })

    def before_train(self, runner):
        self._record(runner)
        if self.stop:
            raise _Stop

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None):
        self._record(runner)
        self.logs.append(dict(outputs or {}))


def _runner(name, data_root, work_dir, seed=3):
    from mmfusion.engine.runner import build_runner
    cfg = _load(f'{name}.py')
    _set_data_root(cfg._cfg_dict, data_root)
    short = SHORT[name.replace('_twin', '')]
    cfg.train_cfg.phases = short['phases']
    cfg.train_cfg.max_iters = cfg.train_cfg.val_interval = short['max_iters']
    cfg.default_hooks.checkpoint.interval = short['max_iters']
    cfg.default_hooks.logger.interval = 1
    cfg.train_dataloader.batch_size = 2
    for loader in cfg.train_cfg.get('extra_dataloaders', {}).values():
        loader.batch_size = 2
    cfg.randomness = dict(seed=seed)
    cfg.model.seed = seed
    cfg.work_dir = str(work_dir)
    cfg.custom_hooks = [
        h for h in cfg.get('custom_hooks', [])
        if h['type'] != 'FusedImageSaveHook'
    ]
    cfg.visualizer = dict(type='Visualizer', vis_backends=[])
    return build_runner(cfg)  # the config's FusionRunner, as train.py


@pytest.fixture(scope='module')
def tiny_root(tmp_path_factory):
    return str(_tiny_data(str(tmp_path_factory.mktemp('msrs_demo_160'))))


@pytest.mark.slow  # 20-70 s each on the shared 2 cores
@pytest.mark.parametrize('method', sorted(SHORT))
def test_twin_trains_from_the_methods_initial_weights(method, tiny_root,
                                                      tmp_path):
    # the method's initial fusion net (stopped before its first iteration)
    runner = _runner(method, tiny_root, tmp_path / 'method')
    start = _Capture(stop=True)
    runner.register_hook(start)
    with pytest.raises(_Stop):
        runner.train()
    assert runner.model.task is not None
    # the twin: same seed, builds no task, trains
    twin = _runner(f'{method}_twin', tiny_root, tmp_path / 'twin')
    capture = _Capture()
    twin.register_hook(capture)
    twin.train()
    model = twin.model
    assert model.task is None and model.task_driven is False
    assert set(twin.optim_wrapper.optim_wrappers) == ({
        'fusion_net', 'discriminator'
    } if 'bdlfusion' in method else {'fusion_net'})
    first = capture.states[0]
    assert first.keys() == start.states[0].keys()
    for k, v in start.states[0].items():
        torch.testing.assert_close(first[k], v, rtol=0, atol=0, msg=k)
    # the fusion net learned, and every value stayed finite
    last = capture.states[-1]
    assert any(not torch.equal(first[k], last[k]) for k in first)
    assert all(
        torch.isfinite(v).all() for v in last.values()
        if v.is_floating_point())
    # no task term anywhere in the log
    keys = {k for log in capture.logs for k in log}
    assert not any(k.startswith(('task.', 'meta', 'sem')) for k in keys), \
        keys
    if 'tdfusion' in method:
        # the meta iteration was idle: the fusion net did not move
        assert all(torch.equal(first[k], capture.states[1][k]) for k in first)
        assert 'fusion.loss_int' in capture.logs[1]
    if 'bdlfusion' in method:
        assert 'upper.c_disc' in capture.logs[1]
        assert 'upper.c_task' not in capture.logs[1]
    if 'seafusion' in method:
        # the task iterations were idle (the fusion net did not move)
        assert all(
            torch.equal(capture.states[1][k], capture.states[2][k])
            for k in first)


def test_task_free_mode_refuses_a_task():
    from mmfusion.registry import MODELS
    cfg = _load('seafusion_joint_r18_160x120.py')
    cfg.model.task_driven = False
    with pytest.raises(ValueError, match='model.task=None'):
        MODELS.build(cfg.model)
    cfg.model.task = None
    with pytest.raises(ValueError, match='semantic_weights to zeros'):
        MODELS.build(cfg.model)
    bdl = _load('bdlfusion_r18_160x120.py')
    bdl.model.task_driven = False
    bdl.model.task = None
    with pytest.raises(ValueError, match="eta='discriminator'"):
        MODELS.build(bdl.model)
    td = _load('tdfusion_r18_160x120.py')
    td.model.task_driven = False
    with pytest.raises(ValueError, match='model.task=None'):
        MODELS.build(td.model)
