# Copyright (c) mmfusion contributors. All rights reserved.
"""Checkpoint files: written whole or not at all, checked when read, loaded
with torch's safe unpickler.

These are mmfusion's own functions. Nothing here changes mmengine, mmseg,
mmdet or torch for code that does not call them: :class:`FusionRunner`
(``runner_type`` in ``configs/_base_/default_runtime.py``) and the task
adapter use them, see ``docs/compat.md``.

* **Safe loading on torch >= 2.6.** ``torch.load`` defaults to
  ``weights_only=True``; checkpoints written by mmengine 0.10.x also hold the
  message hub's :class:`HistoryBuffer` objects and numpy arrays/scalars. They
  are loaded with exactly those classes allow-listed *for that load*
  (:func:`mmengine_checkpoint_globals`), never with the safe unpickler
  switched off. mmfusion writes HistoryBuffers without the
  ``builtins.getattr`` references stock mmengine pickles (its statistics
  methods); a stock checkpoint (which has them) still loads through
  :func:`load_checkpoint_file`, which admits exactly that one global for it.
* **Whole or absent** (:func:`save_checkpoint_file`): written to a temporary
  file in the same folder and moved over the name; a full disk is an error
  naming the file and the space it needs, and leaves nothing behind.
* **Damaged files named** (:func:`load_checkpoint_file`,
  :func:`latest_intact_checkpoint`): a truncated, empty or corrupt
  checkpoint raises :class:`CheckpointDamagedError` naming the file and the
  previous intact checkpoint of its folder; auto-resume falls back to it.
"""
import copyreg
import errno
import io
import logging
import os
import os.path as osp
import pickle
import re
import shutil
import types
import zipfile
from contextlib import contextmanager
from typing import Iterator, Optional

import numpy as np
import torch

from .fileio import atomic_path

__all__ = [
    'CheckpointDamagedError', 'checkpoint_damage', 'check_checkpoint_file',
    'checkpoint_safe_globals', 'mmengine_checkpoint_globals',
    'load_checkpoint_file', 'load_checkpoint_any', 'load_model_checkpoint',
    'save_checkpoint_file', 'previous_intact_checkpoint',
    'latest_intact_checkpoint', 'hub_checkpoint_dir', 'torchvision_url',
    'download_error'
]


def _numpy_safe_globals() -> list:
    """numpy objects that appear in pickled arrays and scalars."""
    try:  # numpy >= 2
        from numpy._core import multiarray
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray
    safe = [multiarray._reconstruct, multiarray.scalar, np.ndarray, np.dtype]
    for name in ('bool_', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16',
                 'uint32', 'uint64', 'float16', 'float32', 'float64',
                 'longlong', 'ulonglong', 'str_', 'bytes_'):
        scalar_type = getattr(np, name)
        safe.append(scalar_type)
        safe.append(type(np.dtype(scalar_type)))  # e.g. dtypes.Float64DType
    # Pickles written under numpy 1.x name these by their old module path;
    # torch matches allow-list entries by that name.
    safe.append(
        (multiarray._reconstruct, 'numpy.core.multiarray._reconstruct'))
    safe.append((multiarray.scalar, 'numpy.core.multiarray.scalar'))
    return safe


def checkpoint_safe_globals() -> list:
    """Everything mmengine 0.10.x pickles into a checkpoint besides tensors."""
    from mmengine.logging.history_buffer import HistoryBuffer
    return [HistoryBuffer] + _numpy_safe_globals()


@contextmanager
def mmengine_checkpoint_globals() -> Iterator[None]:
    """Within the block, torch's safe unpickler also accepts what mmengine
    0.10.x pickles into a checkpoint besides tensors
    (:func:`checkpoint_safe_globals`); the allow-list is as before after it
    (entries that were already there stay). For mmengine's own loaders
    (``_load_checkpoint``, ``init_cfg=dict(type='Pretrained')``) called by
    mmfusion's components."""
    if not hasattr(torch.serialization, 'safe_globals'):  # torch < 2.5
        yield  # (torch < 2.6 loads everything unrestricted anyway)
        return
    present = set(torch.serialization.get_safe_globals())
    added = [g for g in checkpoint_safe_globals() if g not in present]
    with torch.serialization.safe_globals(added):
        yield


def _reduce_history_buffer(buf):
    """A HistoryBuffer pickled without its ``statistics_methods``.

    Stock mmengine 0.10.7's ``__getstate__`` adds the class's statistics
    functions (``HistoryBuffer.mean`` ...), which pickle can only express
    through ``builtins.getattr``, a global the safe unpickler rightly
    refuses. They need not be saved: mmengine's ``__setstate__`` re-creates
    the defaults, and custom ones live on the class. The same stream
    ``object.__reduce_ex__(2)`` writes otherwise; the buffer is not mutated.
    """
    state = dict(buf.__dict__)
    state.pop('statistics_methods', None)
    return copyreg.__newobj__, (type(buf), ), state


_PICKLE_MODULE = None


def _checkpoint_pickle_module() -> types.ModuleType:
    """``pickle`` with a Pickler that writes HistoryBuffers without
    ``builtins.getattr`` (:func:`_reduce_history_buffer`), for
    ``torch.save(..., pickle_module=...)``; only this Pickler's own dispatch
    table has the entry (``copyreg``'s global one is untouched)."""
    global _PICKLE_MODULE
    if _PICKLE_MODULE is None:
        from mmengine.logging.history_buffer import HistoryBuffer

        class CheckpointPickler(pickle.Pickler):
            dispatch_table = copyreg.dispatch_table.copy()
            dispatch_table[HistoryBuffer] = _reduce_history_buffer

        module = types.ModuleType('mmfusion_checkpoint_pickle')
        module.__dict__.update(
            (k, v) for k, v in vars(pickle).items() if not k.startswith('__'))
        module.Pickler = CheckpointPickler
        _PICKLE_MODULE = module
    return _PICKLE_MODULE


class CheckpointDamagedError(RuntimeError):
    """A checkpoint file that cannot be read: truncated, empty or corrupt."""


def checkpoint_damage(filename: str) -> Optional[str]:
    """Why ``filename`` is not a whole checkpoint, or ``None`` if it is.

    torch writes checkpoints as zip archives (stored, with a CRC per
    member): an empty file, a file without the archive's central directory
    at its end (truncated) or a member whose CRC does not match is damaged.
    Reads the file once; does not unpickle anything.
    """
    try:
        size = os.path.getsize(filename)
    except OSError as e:
        return f'cannot be read: {e}'
    if size == 0:
        return 'empty file (0 bytes)'
    if not zipfile.is_zipfile(filename):
        with open(filename, 'rb') as f:
            head = f.read(4)
        if head.startswith(b'PK'):
            return (f'truncated: {size} bytes, the end of the archive is '
                    'missing')
        return None  # not a zip: possibly a legacy (pre-1.6) torch file
    try:
        with zipfile.ZipFile(filename) as zf:
            bad = zf.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
        return f'corrupt archive ({e})'
    if bad is not None:
        return f'corrupt: the data of {bad} fails its CRC check'
    return None


_CKPT_NUMBER = re.compile(r'^(?:iter|epoch)_(\d+)\.pth$')


def _checkpoints_before(filename: str) -> list:
    """The other ``iter_N.pth`` / ``epoch_N.pth`` files of ``filename``'s
    folder that come before it (all of them if its name has no number),
    newest first."""
    folder = osp.dirname(osp.abspath(filename))
    match = _CKPT_NUMBER.match(osp.basename(filename))
    limit = int(match.group(1)) if match else None
    found = []
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    for name in names:
        m = _CKPT_NUMBER.match(name)
        path = osp.join(folder, name)
        if not m or osp.abspath(path) == osp.abspath(filename):
            continue
        if limit is None or int(m.group(1)) < limit:
            found.append((int(m.group(1)), osp.getmtime(path), path))
    return [path for *_, path in sorted(found, reverse=True)]


def previous_intact_checkpoint(filename: str) -> Optional[str]:
    """The newest whole checkpoint of ``filename``'s folder before it."""
    for path in _checkpoints_before(filename):
        if checkpoint_damage(path) is None:
            return path
    return None


def _damaged_error(filename: str, reason: str) -> CheckpointDamagedError:
    previous = previous_intact_checkpoint(filename)
    folder = osp.dirname(osp.abspath(filename))
    if previous is not None:
        way_out = (f'The previous intact checkpoint of {folder} is '
                   f'{previous}: resume from it with `--resume {previous}` '
                   '(auto-resume, `--resume` without a path, falls back to '
                   'it by itself).')
    else:
        way_out = f'{folder} holds no earlier intact checkpoint.'
    return CheckpointDamagedError(
        f'checkpoint {filename} is damaged ({reason}) and cannot be loaded. '
        f'{way_out}')


def check_checkpoint_file(filename: str) -> None:
    """Raise :class:`CheckpointDamagedError` (naming the file and the
    previous intact checkpoint of its folder) if a local checkpoint is
    damaged; nothing for remote names."""
    filename = str(filename)
    if '://' in filename or not osp.isfile(filename):
        return
    reason = checkpoint_damage(filename)
    if reason is not None:
        raise _damaged_error(filename, reason)


def load_checkpoint_file(filename: str, map_location=None):
    """``torch.load`` for checkpoint files, with the safe unpickler.

    What mmengine pickles besides tensors is allow-listed for this load
    (:func:`mmengine_checkpoint_globals`). A
    checkpoint written by stock mmengine 0.10.x on torch >= 2.6 additionally
    references ``builtins.getattr`` (its HistoryBuffer statistics methods):
    exactly that global, and nothing else, is admitted for such a file. Any
    other unsupported global is still refused, with torch's message.

    A damaged file (truncated, empty, or with data that fails its CRC, which
    ``torch.load`` alone does not check) raises
    :class:`CheckpointDamagedError` naming it and the previous intact
    checkpoint of its folder.
    """
    # torch's zip reader does not check the CRCs: a corrupted tensor would
    # load silently. The check reads the file once more (page cache).
    reason = checkpoint_damage(filename)
    if reason is not None:
        raise _damaged_error(filename, reason)
    try:
        with mmengine_checkpoint_globals():
            return torch.load(filename, map_location=map_location)
    except pickle.UnpicklingError as e:
        with mmengine_checkpoint_globals():
            unsafe = set(
                torch.serialization.get_unsafe_globals_in_checkpoint(filename))
        if unsafe - {'builtins.getattr'}:
            raise pickle.UnpicklingError(
                f'checkpoint {filename} contains objects that the safe '
                f'loader refuses: {sorted(unsafe)}. If you trust the file, '
                'allow-list them with torch.serialization.add_safe_globals '
                'before loading.') from e
        with mmengine_checkpoint_globals(), \
                torch.serialization.safe_globals([getattr]):
            return torch.load(filename, map_location=map_location)


def _is_local(filename: str, backend_args=None) -> bool:
    return '://' not in str(filename) and (
        backend_args is None or backend_args.get('backend') == 'local')


def save_checkpoint_file(checkpoint: dict, filename: str) -> None:
    """Write a checkpoint so that ``filename`` is either whole or absent.

    The checkpoint is serialised in memory (as mmengine does), the free
    space checked, then written through
    :func:`~mmfusion.utils.fileio.atomic_path` with ``durable=True``: to a
    temporary file in the same folder, flushed to disk and moved over
    ``filename`` with ``os.replace`` (atomic on POSIX and Windows). A full
    disk raises ``OSError(ENOSPC)`` naming the file, the space it needs and
    the space free; nothing is left behind (an older file of that name stays
    as it was).
    """
    filename = str(filename)
    folder = osp.dirname(osp.abspath(filename))
    os.makedirs(folder, exist_ok=True)
    buf = io.BytesIO()
    torch.save(checkpoint, buf, pickle_module=_checkpoint_pickle_module())
    with buf.getbuffer() as payload:
        need = len(payload)

        def no_space(free, err=None):
            return OSError(
                errno.ENOSPC,
                f'no space left on the device to write checkpoint {filename}'
                f': it needs {need / 2**20:.1f} MiB ({need} bytes), '
                f'{free / 2**20:.1f} MiB are free in {folder}. Free some '
                'space (or write to another --work-dir) and resume; nothing '
                'was written' + (f' ({err})' if err else ''))

        free = shutil.disk_usage(folder).free
        if free < need:
            raise no_space(free)
        try:
            with atomic_path(filename, durable=True) as tmp:
                with open(tmp, 'wb') as f:
                    f.write(payload)
        except OSError as e:
            if e.errno in (errno.ENOSPC, getattr(errno, 'EDQUOT', -1)):
                raise no_space(shutil.disk_usage(folder).free, e) from e
            raise


def latest_intact_checkpoint(work_dir: str) -> Optional[str]:
    """mmengine's ``find_latest_checkpoint`` (the ``last_checkpoint``
    record), checked: a damaged or missing latest checkpoint falls back to
    the previous intact one of the work dir, with a warning saying so."""
    from mmengine.logging import print_log
    from mmengine.runner.checkpoint import find_latest_checkpoint
    latest = find_latest_checkpoint(work_dir)
    if latest is None:
        return None
    if not latest:  # an empty last_checkpoint record
        latest = osp.join(work_dir, 'last_checkpoint')
        reason = 'the record of the latest checkpoint is empty'
        candidates = _checkpoints_before(osp.join(work_dir, 'none'))
    else:
        reason = checkpoint_damage(latest) if osp.isfile(latest) else \
            'missing'
        if reason is None:
            return latest
        candidates = _checkpoints_before(latest)
    for path in candidates:
        if checkpoint_damage(path) is None:
            print_log(
                f'the latest checkpoint {latest} is damaged ({reason}): '
                f'auto-resume falls back to the previous intact checkpoint '
                f'{path}',
                logger='current',
                level=logging.WARNING)
            return path
    raise CheckpointDamagedError(
        f'the latest checkpoint {latest} is damaged ({reason}) and '
        f'{work_dir} holds no earlier intact checkpoint to resume from: '
        'start without --resume (or from a checkpoint elsewhere with '
        '--resume PATH).')


def load_checkpoint_any(filename: str, map_location='cpu'):
    """A checkpoint from a local file (:func:`load_checkpoint_file`: checked,
    safe, a stock mmengine file too) or from anything else mmengine's
    ``CheckpointLoader`` reads (URLs, ``open-mmlab://``, remote backends),
    with mmengine's objects allow-listed for that load."""
    filename = str(filename)
    if '://' not in filename:
        filename = osp.expanduser(filename)
        if not osp.isfile(filename):
            raise FileNotFoundError(f'{filename} can not be found.')
        return load_checkpoint_file(filename, map_location)
    from mmengine.runner.checkpoint import _load_checkpoint
    with mmengine_checkpoint_globals():
        return _load_checkpoint(filename, map_location=map_location)


def load_model_checkpoint(model: torch.nn.Module,
                          filename: str,
                          map_location='cpu',
                          strict: bool = False,
                          logger=None,
                          revise_keys=[(r'^module\.', '')]) -> dict:
    """mmengine's ``load_checkpoint(model, filename, ...)``, reading the file
    with :func:`load_checkpoint_any`."""
    from mmengine.runner.checkpoint import _load_checkpoint_to_model
    checkpoint = load_checkpoint_any(filename, map_location)
    return _load_checkpoint_to_model(
        model, checkpoint, strict, logger, revise_keys=revise_keys)


def hub_checkpoint_dir() -> str:
    """Where downloaded checkpoints are cached (and found offline)."""
    return osp.join(torch.hub.get_dir(), 'checkpoints')


def torchvision_url(name: str) -> str:
    """The URL of ``torchvision://NAME`` from mmengine's own table."""
    import mmengine
    table = mmengine.load(
        osp.join(mmengine.__path__[0], 'hub', 'torchvision_0.12.json'))
    if name not in table:
        raise KeyError(
            f'torchvision://{name} is not in mmengine\'s table of torchvision '
            f'weights (e.g. {", ".join(sorted(table)[:4])}, ...), and '
            'torchvision is not installed to name newer ones: pass the '
            'checkpoint file instead')
    return table[name]


def download_error(names, err: Exception) -> RuntimeError:
    """The error for checkpoints that cannot be downloaded: each name with
    its URL and the local cache file it is read from offline, and how to
    pass a local checkpoint instead. ``names``: ``{name: url}``."""
    where = '; '.join(
        f'{name} ({url}): put the file at '
        f'{osp.join(hub_checkpoint_dir(), osp.basename(url.split("?")[0]))}'
        for name, url in names.items())
    return RuntimeError(
        f'cannot download the checkpoint {where} ({err}). Offline, the file '
        'is read from there without network; or give the model a local '
        'checkpoint instead (e.g. TaskAdapter(pretrained=PATH), or '
        "init_cfg=dict(type='Pretrained', checkpoint=PATH)); "
        'TaskAdapter(pretrained=False) downloads nothing.')
