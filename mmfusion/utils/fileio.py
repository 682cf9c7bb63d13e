# Copyright (c) mmfusion contributors. All rights reserved.
"""Files that are whole or absent."""
import os
import os.path as osp
import shutil
from contextlib import contextmanager
from typing import Iterator

__all__ = ['atomic_path']


def _fsync(path: str, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY if directory else os.O_RDWR)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str, durable: bool = False) -> Iterator[str]:
    """A temporary path beside ``path`` (same folder, same extension, a
    hidden ``.{stem}.{pid}.part{ext}`` name) to write to; moved over
    ``path`` with ``os.replace`` when the block ends without error, removed
    otherwise (an error of the move or of ``durable``'s flush included).
    Readers see either the old file, the whole new one, or none. The block
    may also make a folder there (filled, then moved into place whole; a
    folder already at ``path`` must be moved away inside the block first).

    ``durable``: also survive a crash of the machine — the temporary file's
    data are flushed to the disk (``fsync``) before the move, so a full disk
    surfaces as ``OSError(ENOSPC)`` here and not later, and the folder after
    it, so the move itself is on the disk (where the platform allows).
    """
    folder, name = osp.split(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    stem, ext = osp.splitext(name)
    tmp = osp.join(folder, f'.{stem}.{os.getpid()}.part{ext}')
    try:
        yield tmp
        if durable:
            _fsync(tmp)
        os.replace(tmp, path)
    finally:
        if osp.isdir(tmp) and not osp.islink(tmp):
            shutil.rmtree(tmp)
        elif osp.lexists(tmp):
            os.remove(tmp)
    if durable:
        try:
            _fsync(folder, directory=True)
        except OSError:  # e.g. Windows cannot open a folder
            pass
