"""Checkpoint files are whole or absent (atomic writes, a full disk named
with the space needed), and a damaged checkpoint (truncated, zero-byte,
corrupt) gives an error naming it and the previous intact one, to which
auto-resume falls back; through the real Runner (FusionRunner, the
``runner_type`` of mmfusion's configs)."""
import errno
import glob
import os
import os.path as osp
import re
import shutil

import pytest
import torch
from test_runner_slice import _cfg

from mmfusion.engine.runner import FusionRunner, build_runner
from mmfusion.utils.checkpoint import (CheckpointDamagedError,
                                       checkpoint_damage,
                                       latest_intact_checkpoint,
                                       load_checkpoint_file,
                                       save_checkpoint_file)

NO_VAL = dict(val_cfg=None, val_dataloader=None, val_evaluator=None)


def _run(repo_root, msrs_mini, work_dir, max_iters, **extra):
    cfg = _cfg(repo_root, msrs_mini, work_dir, max_iters, **NO_VAL, **extra)
    cfg.default_hooks.checkpoint.interval = 1
    runner = build_runner(cfg)  # the config's runner_type: FusionRunner
    assert type(runner) is FusionRunner
    runner.train()
    return runner


def _leftovers(folder):
    """Temporary files (atomic_path's hidden ``.{stem}.{pid}.part{ext}``,
    or any other hidden or ``.tmp`` file)."""
    return [
        n for n in os.listdir(folder)
        if n.startswith('.') or n.endswith(('.tmp', '.part'))
    ]


def _fail_fsync_at(monkeypatch, n):
    """``os.fsync`` of the n-th checkpoint file write fails with ENOSPC
    (after the bytes were handed to the file system, as a full disk
    reports it)."""
    calls = dict(n=0)
    real = os.fsync

    def fsync(fd):
        if not osp.isdir(f'/proc/self/fd/{fd}'):
            calls['n'] += 1
            if calls['n'] == n:
                raise OSError(errno.ENOSPC, 'No space left on device')
        return real(fd)

    monkeypatch.setattr(os, 'fsync', fsync)


def test_atomic_write_and_disk_full(tmp_path, monkeypatch):
    path = tmp_path / 'iter_2.pth'
    save_checkpoint_file(dict(w=torch.ones(3)), str(path))
    assert torch.equal(load_checkpoint_file(str(path))['w'], torch.ones(3))
    assert not _leftovers(tmp_path)
    # a failing rewrite leaves the old file as it was and no temporary
    _fail_fsync_at(monkeypatch, 1)
    with pytest.raises(OSError, match=r'iter_2\.pth: it needs .* MiB') as e:
        save_checkpoint_file(dict(w=torch.zeros(3)), str(path))
    assert e.value.errno == errno.ENOSPC
    assert torch.equal(load_checkpoint_file(str(path))['w'], torch.ones(3))
    assert not _leftovers(tmp_path)
    # not enough free space: refused before anything is written
    monkeypatch.setattr(shutil, 'disk_usage',
                        lambda p: shutil._ntuple_diskusage(10, 10, 10))
    with pytest.raises(OSError, match=r'iter_4\.pth: it needs .*0\.0 MiB'):
        save_checkpoint_file(
            dict(w=torch.zeros(3)), str(tmp_path / 'iter_4.pth'))
    assert sorted(os.listdir(tmp_path)) == ['iter_2.pth']


def test_disk_full_during_training_leaves_no_partial_file(
        repo_root, msrs_mini, tmp_path, monkeypatch):
    _fail_fsync_at(monkeypatch, 2)  # the checkpoint of iteration 2
    with pytest.raises(OSError) as e:
        _run(repo_root, msrs_mini, tmp_path, 3)
    assert e.value.errno == errno.ENOSPC
    assert str(tmp_path / 'iter_2.pth') in str(e.value)
    assert not osp.exists(tmp_path / 'iter_2.pth')
    assert not _leftovers(tmp_path)
    assert checkpoint_damage(str(tmp_path / 'iter_1.pth')) is None


@pytest.fixture
def three_checkpoints(repo_root, msrs_mini, tmp_path):
    _run(repo_root, msrs_mini, tmp_path, 3)
    return tmp_path


def _truncate(path, size=None):
    data = open(path, 'rb').read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 10 if size is None else size])


@pytest.mark.parametrize('damage', ['truncated', 'zero-byte', 'corrupt'])
def test_damaged_checkpoint_names_file_and_previous(three_checkpoints, damage):
    work = three_checkpoints
    path = str(work / 'iter_3.pth')
    if damage == 'truncated':
        _truncate(path)
        reason = 'truncated'
    elif damage == 'zero-byte':
        _truncate(path, 0)
        reason = r'empty file \(0 bytes\)'
    else:  # bytes flipped in the middle of a tensor's data
        data = bytearray(open(path, 'rb').read())
        mid = len(data) // 2
        data[mid:mid + 64] = bytes(64)
        open(path, 'wb').write(bytes(data))
        reason = 'fails its CRC check'
    # iter_2 is whole, iter_1 too: the previous intact one is iter_2
    with pytest.raises(CheckpointDamagedError) as e:
        load_checkpoint_file(path)
    msg = str(e.value)
    assert path in msg and 'damaged' in msg
    assert re.search(reason, msg), msg
    assert f'--resume {work / "iter_2.pth"}' in msg


def test_resume_from_damaged_and_auto_fallback(repo_root, msrs_mini,
                                               three_checkpoints):
    work = three_checkpoints
    _truncate(str(work / 'iter_3.pth'))
    _truncate(str(work / 'iter_2.pth'), 0)
    # an explicit --resume PATH: the error names the file and iter_1
    runner = build_runner(
        _cfg(
            repo_root,
            msrs_mini,
            work,
            4,
            **NO_VAL,
            resume=True,
            load_from=str(work / 'iter_3.pth')))
    with pytest.raises(
            CheckpointDamagedError,
            match=r'iter_3\.pth is damaged .*iter_1\.pth'):
        runner.train()
    # auto-resume (last_checkpoint -> iter_3.pth) falls back to iter_1
    assert open(work / 'last_checkpoint').read().strip().endswith('iter_3.pth')
    runner = build_runner(
        _cfg(
            repo_root,
            msrs_mini,
            work,
            4,
            **NO_VAL,
            resume=True,
            load_from=None))
    runner.train()
    assert runner.iter == 4
    logs = sorted(glob.glob(str(work / '*' / '*.log')), key=osp.getmtime)
    log = open(logs[-1]).read()
    assert 'auto-resume falls back to the previous intact checkpoint ' \
        f'{work / "iter_1.pth"}' in log
    assert 'resumed epoch: 0, iter: 1' in log, log[-3000:]
    assert checkpoint_damage(str(work / 'iter_4.pth')) is None


def test_auto_resume_without_intact_checkpoint(tmp_path):
    (tmp_path / 'iter_1.pth').write_bytes(b'')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_1.pth'))
    with pytest.raises(
            CheckpointDamagedError, match='no earlier intact checkpoint'):
        latest_intact_checkpoint(str(tmp_path))
