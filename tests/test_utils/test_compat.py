import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer

from mmfusion.utils.checkpoint import (checkpoint_safe_globals,
                                       load_checkpoint_any,
                                       load_checkpoint_file,
                                       save_checkpoint_file)


def test_mmengine_checkpoint_objects_load_with_weights_only(tmp_path):
    """torch>=2.6 refuses non-tensor pickles by default; mmfusion's loader
    (FusionRunner's) allow-lists exactly what mmengine writes (HistoryBuffer
    holding numpy) for its loads."""
    buf = HistoryBuffer()
    buf.update(1.5)
    buf.update(np.float64(2.5))
    ckpt = dict(
        state_dict=dict(w=torch.ones(2)),
        message_hub=dict(log_scalars={'train/loss': buf}),
        meta=dict(seed=np.int64(3), arr=np.arange(4, dtype=np.float32)))
    path = str(tmp_path / 'ckpt.pth')
    save_checkpoint_file(ckpt, path)
    loaded = load_checkpoint_file(path, map_location='cpu')  # weights_only
    assert loaded['message_hub']['log_scalars']['train/loss'].mean() == 2.0
    assert loaded['meta']['arr'].tolist() == [0, 1, 2, 3]


class NotAllowListed:
    pass


def test_arbitrary_objects_stay_refused(tmp_path):
    """The loader widens the allow-list, it does not switch the check off;
    and it widens it for its own loads only."""
    path = str(tmp_path / 'evil.pth')
    torch.save({'x': NotAllowListed()}, path)
    with pytest.raises(Exception, match='NotAllowListed'):
        load_checkpoint_file(path, map_location='cpu')
    # torch keeps the allow-list as a set (get_safe_globals lists it in an
    # arbitrary order, which changes when it is widened and restored)
    before = set(torch.serialization.get_safe_globals())
    buf = HistoryBuffer()
    buf.update(1.0)
    save_checkpoint_file(dict(b=buf), str(tmp_path / 'b.pth'))
    load_checkpoint_file(str(tmp_path / 'b.pth'))
    assert set(torch.serialization.get_safe_globals()) == before


def _save_like_stock_mmengine(path, extra=None):
    buf = HistoryBuffer()
    buf.update(3.0)
    torch.save(  # what mmengine's save_checkpoint does (its own pickling)
        dict(
            state_dict=dict(w=torch.zeros(1)),
            message_hub=dict(log_scalars=dict(loss=buf)),
            extra=extra), path)


def test_new_checkpoints_have_no_getattr(tmp_path):
    buf = HistoryBuffer()
    buf.update(1.0)
    save_checkpoint_file(dict(b=buf), str(tmp_path / 'a.pth'))
    unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(
        str(tmp_path / 'a.pth'))
    assert 'builtins.getattr' not in unsafe
    # loadable by torch's safe unpickler given the allow-list alone
    with torch.serialization.safe_globals(checkpoint_safe_globals()):
        loaded = torch.load(tmp_path / 'a.pth')['b']
    assert loaded.statistics('mean') == 1.0  # default methods restored
    assert 'statistics_methods' not in buf.__dict__


def test_stock_mmengine_checkpoint_loads_through_mmfusion(tmp_path):
    path = str(tmp_path / 'stock.pth')
    _save_like_stock_mmengine(path)
    with pytest.raises(Exception, match='getattr'):
        with torch.serialization.safe_globals(checkpoint_safe_globals()):
            torch.load(path)  # plain safe load refuses it
    # FusionRunner's resume/load_from path
    ckpt = load_checkpoint_any(path, map_location='cpu')
    assert ckpt['message_hub']['log_scalars']['loss'].statistics(
        'current') == 3.0


def test_stock_checkpoint_with_other_globals_still_refused(tmp_path):
    path = str(tmp_path / 'stock_evil.pth')
    _save_like_stock_mmengine(path, extra=NotAllowListed())
    with pytest.raises(Exception, match='NotAllowListed'):
        load_checkpoint_any(path, map_location='cpu')


def _run_fresh(lines: list) -> list:
    """Run ``lines`` (a script) in a fresh interpreter, where nothing of
    mmengine or mmfusion is imported yet; its stdout lines (it must exit 0).
    """
    res = subprocess.run([sys.executable, '-c', '\n'.join(lines)],
                         capture_output=True,
                         text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout.split('\n')


def test_cpu_init_dist_uses_gloo_without_changing_mmengine():
    """tools/task_eval.py and FusionRunner create the process group with
    mmfusion's init_dist: gloo on a CPU-only machine (mmengine's calls
    torch.cuda.set_device); mmengine's own init_dist stays as it was."""
    out = _run_fresh([
        'import os, sys',
        "os.environ.update(RANK='0', LOCAL_RANK='0', WORLD_SIZE='1',",
        "                  MASTER_ADDR='127.0.0.1', MASTER_PORT=str(",
        '                      __import__("mmfusion.testing._dist",',
        "                                 fromlist=['x']).free_port()))",
        'import mmengine.dist.utils as du',
        'original = du._init_dist_pytorch',
        'from mmfusion.utils.dist import init_dist',
        "init_dist('pytorch', backend='nccl')",
        'import torch.distributed as dist',
        'print(dist.get_backend(), du._init_dist_pytorch is original)',
    ])
    assert out[0] == 'gloo True'


@pytest.mark.slow
def test_import_mmfusion_patches_nothing():
    """After ``import mmfusion`` (and its registries and runner), mmengine's
    checkpoint functions, loaders and DDP are mmengine's own; importing
    mmfusion imports no mmengine runner (start-up of tools that never build
    one). The full check: test_no_side_effects.py."""
    out = _run_fresh([
        'import sys',
        'import mmfusion',
        "print('mmengine.runner' in sys.modules)",
        'import mmfusion.engine, mmfusion.models',
        'from mmengine.runner import checkpoint as ckpt, runner',
        'from mmengine.model import MMDistributedDataParallel as DDP',
        'import mmengine.dist.utils as du',
        "print(sorted({f.__module__ for f in (ckpt.save_checkpoint,",
        '    runner.save_checkpoint, runner.find_latest_checkpoint,',
        '    du._init_dist_pytorch, DDP.__init__,',
        "    *ckpt.CheckpointLoader._schemes.values())}))",
    ])
    assert out[0] == 'False'
    assert out[1] == str(
        sorted({
            'mmengine.runner.checkpoint', 'mmengine.dist.utils',
            'mmengine.model.wrappers.distributed'
        }))


@pytest.mark.slow
def test_every_config_selects_fusion_runner(repo_root):
    """mmfusion's configs select FusionRunner (default_runtime.py); the task
    configs (mmseg/mmdet scope, trained by the task-driven protocol or
    tools/train.py) name no runner, so build_runner gives them FusionRunner
    too."""
    import glob
    import os.path as osp

    from mmengine.config import Config
    names = sorted(
        p for p in glob.glob(
            osp.join(repo_root, 'configs', '**', '*.py'), recursive=True)
        if '_base_' not in p)
    trained = 0
    for path in names:
        cfg = Config.fromfile(path)
        if 'model' not in cfg:
            continue  # experiment configs (task_gain_*.py)
        trained += 1
        if cfg.get('default_scope') == 'mmfusion':
            assert cfg.runner_type == 'mmfusion.FusionRunner', path
        else:
            assert 'runner_type' not in cfg, path
    assert trained >= 20
