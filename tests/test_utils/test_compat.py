import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer

import mmfusion  # noqa: F401


def test_mmengine_checkpoint_objects_load_with_weights_only(tmp_path):
    """torch>=2.6 refuses non-tensor pickles by default; the compat patch
    allow-lists exactly what mmengine writes (HistoryBuffer holding numpy)."""
    buf = HistoryBuffer()
    buf.update(1.5)
    buf.update(np.float64(2.5))
    ckpt = dict(
        state_dict=dict(w=torch.ones(2)),
        message_hub=dict(log_scalars={'train/loss': buf}),
        meta=dict(seed=np.int64(3), arr=np.arange(4, dtype=np.float32)))
    path = tmp_path / 'ckpt.pth'
    torch.save(ckpt, path)
    loaded = torch.load(path, map_location='cpu')  # weights_only default
    assert loaded['message_hub']['log_scalars']['train/loss'].mean() == 2.0
    assert loaded['meta']['arr'].tolist() == [0, 1, 2, 3]


class NotAllowListed:
    pass


def test_arbitrary_objects_stay_refused(tmp_path):
    """The patch widens the allow-list, it does not switch the check off."""
    path = tmp_path / 'evil.pth'
    torch.save({'x': NotAllowListed()}, path)
    with pytest.raises(Exception, match='Unsupported global|weights_only'):
        torch.load(path, map_location='cpu')


def _stock_getstate(self):
    # what mmengine 0.10.7's HistoryBuffer.__getstate__ does
    self.__dict__.update(statistics_methods=self._statistics_methods)
    return self.__dict__


def _save_like_stock_mmengine(path, extra=None):
    buf = HistoryBuffer()
    buf.update(3.0)
    patched = HistoryBuffer.__getstate__
    HistoryBuffer.__getstate__ = _stock_getstate
    try:
        torch.save(
            dict(
                state_dict=dict(w=torch.zeros(1)),
                message_hub=dict(log_scalars=dict(loss=buf)),
                extra=extra), path)
    finally:
        HistoryBuffer.__getstate__ = patched


def test_new_checkpoints_have_no_getattr(tmp_path):
    buf = HistoryBuffer()
    buf.update(1.0)
    torch.save(dict(b=buf), tmp_path / 'a.pth')
    unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(
        str(tmp_path / 'a.pth'))
    assert 'builtins.getattr' not in unsafe
    loaded = torch.load(tmp_path / 'a.pth')['b']
    assert loaded.statistics('mean') == 1.0  # default methods restored
    assert 'statistics_methods' not in buf.__dict__


def test_stock_mmengine_checkpoint_loads_through_mmengine(tmp_path):
    from mmengine.runner.checkpoint import _load_checkpoint
    path = str(tmp_path / 'stock.pth')
    _save_like_stock_mmengine(path)
    with pytest.raises(Exception, match='getattr'):
        torch.load(path)  # plain safe load refuses it
    ckpt = _load_checkpoint(path, map_location='cpu')  # resume/load_from path
    assert ckpt['message_hub']['log_scalars']['loss'].statistics(
        'current') == 3.0


def test_stock_checkpoint_with_other_globals_still_refused(tmp_path):
    from mmengine.runner.checkpoint import _load_checkpoint
    path = str(tmp_path / 'stock_evil.pth')
    _save_like_stock_mmengine(path, extra=NotAllowListed())
    with pytest.raises(Exception, match='NotAllowListed'):
        _load_checkpoint(path, map_location='cpu')


def _run_fresh(lines: list) -> list:
    """Run ``lines`` (a script) in a fresh interpreter, where nothing of
    mmengine or mmfusion is imported yet; its stdout lines (it must exit 0).
    """
    res = subprocess.run([sys.executable, '-c', '\n'.join(lines)],
                         capture_output=True,
                         text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout.split('\n')


def test_cpu_init_dist_patched_before_any_model_import():
    """tools/task_eval.py calls mmengine's init_dist before anything imports
    mmengine.model: the CPU process-group patch must be in place then."""
    out = _run_fresh([
        'import sys',
        'import mmfusion',
        'from mmengine.dist import init_dist',
        'import mmengine.dist.utils as du',
        "print('mmengine.model' in sys.modules,",
        "      getattr(du._init_dist_pytorch, '_mmfusion_patched', False))",
    ])
    assert out[0] == 'False True'


@pytest.mark.parametrize('runner_first', [False, True])
def test_patches_wait_for_the_modules_they_patch(runner_first):
    """``import mmfusion`` does not import ``mmengine.runner`` (about a
    second of start-up for tools that never build a runner); the runner's
    patches are in place as soon as it is imported, in either order."""
    out = _run_fresh([
        'import sys',
        'import mmengine.runner' if runner_first else '',
        'import mmfusion',
        "print('runner' if 'mmengine.runner' in sys.modules else 'lazy')",
        'from mmengine.runner import checkpoint as ckpt, runner',
        'import mmengine.dist.utils as du',
        "print(getattr(ckpt.save_checkpoint, '_mmfusion_atomic', False),",
        "      runner.find_latest_checkpoint.__name__,",
        "      getattr(ckpt, '_mmfusion_url_loaders', False),",
        "      getattr(du._init_dist_pytorch, '_mmfusion_patched', False),",
        "      ckpt.CheckpointLoader._schemes[''].__name__)",
    ])
    first, patched = out[:2]
    assert first == ('runner' if runner_first else 'lazy')
    assert patched == ('True latest_intact_checkpoint True True '
                       'load_from_local')
