"""``--amp`` with the per-network optimiser wrappers of the three strategies:
every sub-network's wrapper becomes an AMP wrapper, and each strategy runs
under autocast exactly what it should (bfloat16 on this CPU; TDFusion's meta
step and BDLFusion's hypergradient stay in float32). A CUDA test runs where a
GPU exists."""
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.hooks import Hook
from mmengine.optim import AmpOptimWrapper
from test_bdlfusion_dist import bdl_test_cfg
from test_seafusion_runner import seafusion_test_cfg
from test_tdfusion_runner import tdfusion_test_cfg

from mmfusion.engine.optimizers import CPUAmpOptimWrapper, amp, enable_amp
from mmfusion.engine.runner import build_runner
from mmfusion.models.utils.misc import unwrap
from mmfusion.structures.phases import current_phase
from mmfusion.utils.checkpoint import load_checkpoint_file

CFGS = dict(
    tdfusion=tdfusion_test_cfg,
    bdlfusion=bdl_test_cfg,
    seafusion=seafusion_test_cfg)
# which sub-networks' outputs are recorded, and the dtypes each phase must
# show for them (float32: outside autocast; bfloat16: under it)
EXPECTED = dict(
    tdfusion={
        # meta: the virtual step and the outer loss in fp32 (the loss
        # generator runs only there); the fusion net also gives the
        # temporary task step its input, under the task's autocast
        ('meta', 'loss_generator'): {torch.float32},
        ('meta', 'fusion_net'): {torch.float32, torch.bfloat16},
        ('fusion', 'fusion_net'): {torch.bfloat16},
        ('fusion', 'loss_generator'): {torch.bfloat16},
    },
    bdlfusion={
        # the followers' steps under their autocast; the leader's forwards
        # (the no-grad fused image of the lower step, the hypergradient
        # passes of the upper one) in fp32
        ('upper', 'discriminator'): {torch.float32, torch.bfloat16},
        ('lower', 'discriminator'): {torch.bfloat16},
        ('lower', 'fusion_net'): {torch.float32},
        ('upper', 'fusion_net'): {torch.float32},
    },
    seafusion={
        ('fusion', 'fusion_net'): {torch.bfloat16},
        ('task', 'fusion_net'): {torch.bfloat16},
    })
ITERS = dict(tdfusion=4, bdlfusion=3, seafusion=4)


class DtypeRecorder(Hook):
    """Records (phase, sub-network) -> output dtypes of every forward."""

    def __init__(self, names):
        self.names = names
        self.seen = {}

    def before_train(self, runner):
        model = unwrap(runner.model)

        def record(name):

            def hook(module, args, out):
                out = out[0] if isinstance(out, (tuple, list)) else out
                if isinstance(out, torch.Tensor):
                    phase = current_phase().name
                    self.seen.setdefault((phase, name), set()).add(out.dtype)

            return hook

        for name in self.names:
            unwrap(getattr(model, name)).register_forward_hook(record(name))


@pytest.mark.parametrize('strategy', sorted(CFGS))
@pytest.mark.slow
def test_amp_wrappers_and_autocast_per_strategy(strategy, repo_root, msrs_mini,
                                                tmp_path):
    cfg = CFGS[strategy](repo_root, msrs_mini, tmp_path, ITERS[strategy])
    cfg.optim_wrapper = enable_amp(cfg.optim_wrapper)
    names = sorted({name for _, name in EXPECTED[strategy]})
    recorder = DtypeRecorder(names)
    runner = build_runner(cfg)
    runner.register_hook(recorder)
    before = {
        k: v.detach().clone()
        for k, v in runner.model.state_dict().items()
    }
    runner.train()
    wrappers = runner.optim_wrapper
    assert set(wrappers.keys()) == {
        k
        for k in cfg.optim_wrapper if k != 'constructor'
    }
    for name, wrapper in wrappers.items():
        assert isinstance(wrapper, CPUAmpOptimWrapper), name
        assert wrapper.cast_dtype == torch.bfloat16
    for key, dtypes in EXPECTED[strategy].items():
        assert recorder.seen.get(key) == dtypes, (key, recorder.seen)
    state = runner.model.state_dict()
    assert all(
        torch.isfinite(v).all() for v in state.values()
        if v.is_floating_point())
    assert runner.model.nonfinite_guard.skipped == 0
    for name in wrappers.keys():  # every network trained
        assert any(
            not torch.equal(before[k], state[k]) for k in state
            if k.startswith(f'{name}.') and state[k].is_floating_point()), name
    ckpt = load_checkpoint_file(str(tmp_path / f'iter_{ITERS[strategy]}.pth'))
    assert set(ckpt['optimizer']) == set(wrappers.keys())


def test_enable_amp_configs(monkeypatch):
    per_net = dict(
        constructor='MultiOptimWrapperConstructor',
        fusion_net=dict(optimizer=dict(type='Adam', lr=1e-3)),
        task=dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=1e-2)))
    cpu = enable_amp(per_net)
    assert cpu['fusion_net']['type'] == cpu['task']['type'] == \
        'CPUAmpOptimWrapper'
    assert cpu['constructor'] == 'MultiOptimWrapperConstructor'
    assert 'type' not in per_net['fusion_net']  # not modified in place
    with pytest.raises(ValueError, match='bfloat16'):
        enable_amp(per_net, 'float16')
    monkeypatch.setattr(amp, 'amp_device_available', lambda: True)
    gpu = enable_amp(per_net, 'bfloat16')
    for name in ('fusion_net', 'task'):
        assert gpu[name]['type'] == 'AmpOptimWrapper'
        assert gpu[name]['loss_scale'] == 'dynamic'
        assert gpu[name]['dtype'] == 'bfloat16'
    plain = enable_amp(dict(optimizer=dict(type='Adam', lr=1e-3)))
    assert plain['type'] == 'AmpOptimWrapper' and 'dtype' not in plain
    with pytest.raises(ValueError, match='OptimWrapper configs'):
        enable_amp(dict(type='ApexOptimWrapper', optimizer=dict()))


@pytest.mark.slow
def test_train_py_amp_on_the_demo_config(repo_root, msrs_mini, tmp_path):
    """The command of the issue, shortened to 2 meta iterations."""
    out = subprocess.run([
        sys.executable, 'tools/train.py', 'configs/tdfusion/tdfusion_demo.py',
        '--amp', '--work-dir',
        str(tmp_path), '--cfg-options',
        f'train_dataloader.dataset.data_root={msrs_mini}',
        'train_cfg.max_iters=2', 'train_cfg.val_interval=100',
        'default_hooks.checkpoint.interval=2'
    ],
                         cwd=repo_root,
                         capture_output=True,
                         text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-3000:] + out.stdout[-3000:]
    log = out.stdout + out.stderr
    if not torch.cuda.is_available():
        assert 'no CUDA device: --amp trains with bfloat16 autocast' in log
    ckpt = load_checkpoint_file(str(tmp_path / 'iter_2.pth'))
    assert set(ckpt['optimizer']) == {'fusion_net', 'loss_generator', 'task'}


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU')
@pytest.mark.parametrize('dtype', ['float16', 'bfloat16'])
def test_amp_on_cuda(dtype, repo_root, msrs_mini, tmp_path):
    cfg = tdfusion_test_cfg(repo_root, msrs_mini, tmp_path, 4)
    cfg.optim_wrapper = enable_amp(cfg.optim_wrapper, dtype)
    runner = build_runner(cfg)
    runner.train()
    for wrapper in runner.optim_wrapper.values():
        assert type(wrapper) is AmpOptimWrapper
        assert wrapper.cast_dtype == getattr(torch, dtype)
    assert all(
        torch.isfinite(v).all() for v in runner.model.state_dict().values()
        if v.is_floating_point())
    assert osp.isfile(tmp_path / 'iter_4.pth')
