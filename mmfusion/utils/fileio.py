# Copyright (c) mmfusion contributors. All rights reserved.
"""Files that are whole or absent."""
import os
import os.path as osp
from contextlib import contextmanager
from typing import Iterator

__all__ = ['atomic_path']


@contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """A temporary path beside ``path`` (same folder, same extension, a
    hidden ``.{stem}.{pid}.part{ext}`` name) to write to; moved over
    ``path`` with ``os.replace`` when the block ends without error, removed
    otherwise. Readers see either the old file, the whole new one, or
    none."""
    folder, name = osp.split(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    stem, ext = osp.splitext(name)
    tmp = osp.join(folder, f'.{stem}.{os.getpid()}.part{ext}')
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
