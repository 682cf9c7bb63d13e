"""atomic_path: whole or absent, and with durable=True flushed before the
move (a full disk is reported there, leaving the old file and no
temporary)."""
import errno
import os
import os.path as osp

import pytest

from mmfusion.utils.fileio import atomic_path


def _write(path, data):
    with open(path, 'w') as f:
        f.write(data)


@pytest.mark.parametrize('durable', [False, True])
def test_whole_or_absent(tmp_path, durable):
    path = str(tmp_path / 'sub' / 'a.txt')
    with atomic_path(path, durable=durable) as tmp:
        assert osp.dirname(tmp) == osp.dirname(path)
        assert osp.basename(tmp).startswith('.a.')
        assert tmp.endswith('.part.txt')
        _write(tmp, 'new')
        assert not osp.exists(path)
    assert open(path).read() == 'new'
    with pytest.raises(RuntimeError):
        with atomic_path(path, durable=durable) as tmp:
            _write(tmp, 'half')
            raise RuntimeError
    assert open(path).read() == 'new'
    assert os.listdir(osp.dirname(path)) == ['a.txt']


def test_durable_flushes_file_then_folder(tmp_path, monkeypatch):
    path = str(tmp_path / 'b.bin')
    synced = []
    real = os.fsync

    def fsync(fd):
        synced.append(os.readlink(f'/proc/self/fd/{fd}'))
        return real(fd)

    monkeypatch.setattr(os, 'fsync', fsync)
    with atomic_path(path, durable=True) as tmp:
        _write(tmp, 'x')
    assert synced == [tmp, str(tmp_path)]
    # a full disk reported by the flush: the old file stays, no temporary
    synced.clear()

    def full(fd):
        raise OSError(errno.ENOSPC, 'No space left on device')

    monkeypatch.setattr(os, 'fsync', full)
    with pytest.raises(OSError) as e:
        with atomic_path(path, durable=True) as tmp:
            _write(tmp, 'y')
    assert e.value.errno == errno.ENOSPC
    assert open(path).read() == 'x'
    assert os.listdir(tmp_path) == ['b.bin']
