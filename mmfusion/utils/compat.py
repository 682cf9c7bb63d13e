# Copyright (c) mmfusion contributors. All rights reserved.
"""Compatibility fixes that make the pinned OpenMMLab stack work on torch 2.13.

Installed once when ``mmfusion`` is imported (idempotent); each fix is applied
when the module it patches is first imported (:func:`install_compat_patches`).

* **Checkpoint loading (torch >= 2.6).** ``torch.load`` defaults to
  ``weights_only=True`` since torch 2.6. Checkpoints written by mmengine
  0.10.x contain, besides tensors, the message hub's :class:`HistoryBuffer`
  objects and the numpy arrays/scalars they hold, so ``runner.resume()`` (and
  ``load_checkpoint`` of any checkpoint with ``meta``) raises
  ``UnpicklingError: Unsupported global``. Instead of turning the safe loader
  off (``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` or ``weights_only=False``, which
  would let any pickle execute code), the exact classes mmengine writes are
  added to torch's allow-list, so mmengine, mmseg and mmdet loaders keep using
  the safe unpickler. mmengine's HistoryBuffer is made to pickle without the
  ``builtins.getattr`` references stock mmengine writes, and checkpoints
  written by stock mmengine (which have them) still load through
  :func:`load_checkpoint_file`, which admits exactly that one global.
* **Checkpoint files are whole or absent** (:func:`save_checkpoint_file`,
  :func:`load_checkpoint_file`, :func:`latest_intact_checkpoint`). mmengine
  writes a checkpoint in place: a full disk leaves a truncated ``iter_N.pth``
  and a bare ``OSError: [Errno 28]``. Local checkpoints are written to a
  temporary file in the same folder and moved over the name with
  ``os.replace``; a full disk raises an error naming the file and the space
  it needs, and leaves nothing behind. Loading a damaged (truncated,
  zero-byte, corrupted) checkpoint raises :class:`CheckpointDamagedError`
  naming the file and the previous intact checkpoint of its folder;
  auto-resume (``--resume`` without a path) falls back to that one, saying so.
* **Distributed training on CPU.** ``--launcher pytorch`` without CUDA uses
  gloo instead of crashing in ``torch.cuda.set_device``, and the process group
  is destroyed at exit (see :func:`_patch_cpu_distributed`).
* **Pretrained weights without torchvision and offline.** mmengine resolves
  ``torchvision://NAME`` (the ImageNet backbones of most mmdet configs) by
  importing torchvision, only to read the URL table mmengine itself ships
  (``mmengine/hub/torchvision_0.12.json``). Without torchvision the name is
  looked up in that table instead, so a missing optional package is never the
  error a user sees; torchvision, when installed, is used as before. A
  checkpoint URL that cannot be downloaded (``torchvision://``,
  ``open-mmlab://``, ``http(s)://``) raises an error naming the URL, the
  local cache file it would be read from offline and how to pass a local
  checkpoint instead of a bare ``URLError`` (see :func:`_patch_url_loaders`).
* **mmdet 3.3.0's SSD cannot predict**:
  ``BaseDenseHead._predict_by_feat_single`` reads ``self.loss_cls``, which
  ``SSDHead`` (its own loss) never sets: ``AttributeError`` at the first
  validation. ``SSDHead.loss_cls = None``
  (:func:`patch_mmdet`, applied when an mmdet task is built).
* **mmseg 1.2.2's class-weighted cross-entropy crashes on ignored pixels**:
  with ``class_weight`` set, ``mmseg.models.losses.cross_entropy`` computes
  its average factor as ``class_weight[label]`` without masking
  ``ignore_index``, so any label map with 255 (the task preprocessor's
  padding, e.g. TDFusion's 240x320 task view padded to a multiple of 32, or a
  dataset's ignored regions) raises ``IndexError: index 255 is out of bounds``
  (upstream open-mmlab/mmsegmentation#3734, #3831, unfixed in 1.2.2). The
  factor is computed the way ``F.cross_entropy`` weighs its terms: the class
  weights of the non-ignored pixels (ignored pixels have no class, so weight
  0). Identical to upstream wherever upstream runs (no ignored pixel), and
  vectorised instead of upstream's per-image Python loop
  (:func:`patch_mmseg`, applied when an mmseg task is built).
* **``pkg_resources``.** mmengine resolves ``mmseg::``/``mmdet::`` config paths
  with ``pkg_resources``, removed in setuptools 81: warn at import with the
  fix.
"""
import atexit
import errno
import importlib.abc
import importlib.util
import io
import logging
import os
import os.path as osp
import pickle
import re
import shutil
import sys
import warnings
import zipfile
from typing import Optional

import numpy as np
import torch

from .fileio import atomic_path

_APPLIED = False


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


def _history_buffer_getstate(self) -> dict:
    """Pickle a HistoryBuffer without its ``statistics_methods``.

    Stock mmengine 0.10.7 pickles the class's statistics functions
    (``HistoryBuffer.mean`` ...), which pickle can only express through
    ``builtins.getattr``, a global the safe unpickler rightly refuses. They
    need not be saved: ``__setstate__`` (stock and ours alike) re-creates the
    defaults, and custom ones live on the class. The instance is not mutated
    (the stock method writes the dict into ``self.__dict__``).
    """
    state = dict(self.__dict__)
    state.pop('statistics_methods', None)
    return state


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


def load_checkpoint_file(filename: str, map_location=None):
    """``torch.load`` for checkpoint files, with the safe unpickler.

    Checkpoints written by mmfusion hold only allow-listed objects. A
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
    _register_safe_globals()
    try:
        return torch.load(filename, map_location=map_location)
    except pickle.UnpicklingError as e:
        unsafe = set(
            torch.serialization.get_unsafe_globals_in_checkpoint(filename))
        if unsafe - {'builtins.getattr'}:
            raise pickle.UnpicklingError(
                f'checkpoint {filename} contains objects that the safe '
                f'loader refuses: {sorted(unsafe)}. If you trust the file, '
                'allow-list them with torch.serialization.add_safe_globals '
                'before loading.') from e
        with torch.serialization.safe_globals([getattr]):
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
    torch.save(checkpoint, buf)
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
    latest = _find_latest_checkpoint(work_dir)
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


_find_latest_checkpoint = None


def _patch_checkpoint_io() -> None:
    """Atomic local checkpoint writes and the checked auto-resume, in every
    module of mmengine that imported the functions by name."""
    global _find_latest_checkpoint
    import mmengine.runner as runner_pkg
    from mmengine.runner import checkpoint as ckpt
    from mmengine.runner import runner as runner_mod

    if getattr(ckpt.save_checkpoint, '_mmfusion_atomic', False):
        return
    original_save = ckpt.save_checkpoint
    _find_latest_checkpoint = ckpt.find_latest_checkpoint

    def save_checkpoint(checkpoint,
                        filename,
                        file_client_args=None,
                        backend_args=None):
        if file_client_args is None and _is_local(filename, backend_args):
            return save_checkpoint_file(checkpoint, filename)
        return original_save(
            checkpoint,
            filename,
            file_client_args=file_client_args,
            backend_args=backend_args)

    save_checkpoint._mmfusion_atomic = True
    save_checkpoint.__doc__ = save_checkpoint_file.__doc__
    for module in (ckpt, runner_mod, runner_pkg):
        module.save_checkpoint = save_checkpoint
        module.find_latest_checkpoint = latest_intact_checkpoint
    try:
        from mmengine.runner import _flexible_runner
        _flexible_runner.find_latest_checkpoint = latest_intact_checkpoint
    except ImportError:  # pragma: no cover
        pass


_SAFE_GLOBALS_ADDED = False


def _register_safe_globals() -> None:
    """Allow-list what mmengine pickles into checkpoints (cheap: no
    ``mmengine.runner`` import) and pickle HistoryBuffers without their
    statistics functions."""
    global _SAFE_GLOBALS_ADDED
    if _SAFE_GLOBALS_ADDED:
        return
    from mmengine.logging.history_buffer import HistoryBuffer
    if hasattr(torch.serialization, 'add_safe_globals'):  # torch >= 2.4
        torch.serialization.add_safe_globals(checkpoint_safe_globals())
    HistoryBuffer.__getstate__ = _history_buffer_getstate
    _SAFE_GLOBALS_ADDED = True


def _patch_weights_only_load() -> None:
    _register_safe_globals()
    if not hasattr(torch.serialization, 'add_safe_globals'):
        return  # torch < 2.4 loads everything unrestricted anyway
    from mmengine.runner.checkpoint import CheckpointLoader

    def load_from_local(filename, map_location):
        filename = osp.expanduser(filename)
        if not osp.isfile(filename):
            raise FileNotFoundError(f'{filename} can not be found.')
        return load_checkpoint_file(filename, map_location)

    # '' is the scheme of plain local paths (resume, load_from, pretrained)
    CheckpointLoader.register_scheme(prefixes='', force=True)(load_from_local)


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


def _download_error(name: str, url: str, err: Exception) -> RuntimeError:
    fname = osp.basename(url.split('?')[0])
    return RuntimeError(
        f'cannot download the checkpoint {name} ({url}): {err}. Offline, put '
        f'the file at {osp.join(hub_checkpoint_dir(), fname)} (it is read '
        'from there without network), or give the model a local checkpoint '
        'instead (e.g. TaskAdapter(pretrained=PATH), or init_cfg=dict('
        "type='Pretrained', checkpoint=PATH)); TaskAdapter(pretrained=False) "
        'downloads nothing.')


def _patch_url_loaders() -> None:
    from urllib.error import URLError

    from mmengine.runner import checkpoint as ckpt
    from mmengine.runner.checkpoint import CheckpointLoader

    if getattr(ckpt, '_mmfusion_url_loaders', False):
        return
    load_from_http = ckpt.load_from_http
    load_from_openmmlab = ckpt.load_from_openmmlab
    load_from_torchvision = ckpt.load_from_torchvision

    def fetch(name, url, map_location):
        try:
            return load_from_http(url, map_location=map_location)
        except (URLError, ConnectionError, TimeoutError) as e:
            raise _download_error(name, url, e) from e

    def from_http(filename, map_location=None, model_dir=None):
        try:
            return load_from_http(
                filename, map_location=map_location, model_dir=model_dir)
        except (URLError, ConnectionError, TimeoutError) as e:
            raise _download_error(filename, filename, e) from e

    def from_torchvision(filename, map_location=None):
        if importlib.util.find_spec('torchvision') is not None:
            return load_from_torchvision(filename, map_location=map_location)
        name = filename.split('://', 1)[1]
        return fetch(filename, torchvision_url(name), map_location)

    def from_openmmlab(filename, map_location=None):
        try:
            return load_from_openmmlab(filename, map_location=map_location)
        except (URLError, ConnectionError, TimeoutError) as e:
            name = filename.split('://', 1)[1]
            url = ckpt.get_external_models().get(name, filename)
            raise _download_error(filename, url, e) from e

    CheckpointLoader.register_scheme(
        prefixes=('http://', 'https://'), force=True)(
            from_http)
    CheckpointLoader.register_scheme(
        prefixes='torchvision://', force=True)(
            from_torchvision)
    CheckpointLoader.register_scheme(
        prefixes=('open-mmlab://', 'openmmlab://'), force=True)(
            from_openmmlab)
    ckpt._mmfusion_url_loaders = True


def patch_mmdet() -> None:
    """Fixes for mmdet 3.3.0 (see the module docstring); idempotent."""
    from mmdet.models.dense_heads import SSDHead
    if not hasattr(SSDHead, 'loss_cls'):
        SSDHead.loss_cls = None


def _mmseg_cross_entropy(pred,
                         label,
                         weight=None,
                         class_weight=None,
                         reduction='mean',
                         avg_factor=None,
                         ignore_index=-100,
                         avg_non_ignore=False):
    """mmseg 1.2.2's ``cross_entropy`` with the class-weighted average
    factor masked at ``ignore_index`` (see the module docstring)."""
    import torch.nn.functional as F
    from mmseg.models.losses.utils import weight_reduce_loss
    loss = F.cross_entropy(
        pred,
        label,
        weight=class_weight,
        reduction='none',
        ignore_index=ignore_index)
    if avg_factor is None and reduction == 'mean':
        if class_weight is None:
            if avg_non_ignore:
                avg_factor = label.numel() - (label
                                              == ignore_index).sum().item()
            else:
                avg_factor = label.numel()
        else:
            valid = label != ignore_index
            safe = torch.where(valid, label, torch.zeros_like(label))
            avg_factor = (class_weight.to(pred.device)[safe] * valid).sum()
    if weight is not None:
        weight = weight.float()
    return weight_reduce_loss(
        loss, weight=weight, reduction=reduction, avg_factor=avg_factor)


def patch_mmseg() -> None:
    """Fixes for mmseg 1.2.2 (see the module docstring); idempotent. Only
    losses built after the call use the fix (``CrossEntropyLoss`` binds its
    criterion at construction)."""
    from mmseg.models.losses import cross_entropy_loss as ce
    if getattr(ce, '_mmfusion_patched', False):
        return
    ce.cross_entropy = _mmseg_cross_entropy
    ce._mmfusion_patched = True


def _check_pkg_resources() -> None:
    """Warn with the fix if ``pkg_resources`` (setuptools<81) is missing."""
    if importlib.util.find_spec('pkg_resources') is None:
        warnings.warn(
            'mmengine needs `pkg_resources` to resolve `mmseg::`/`mmdet::` '
            'config paths, and setuptools>=81 no longer ships it. Run '
            '`pip install "setuptools<81"`.')


def _patch_runner() -> None:
    """The patches of ``mmengine.runner`` (its checkpoint loading, saving
    and auto-resume)."""
    _patch_weights_only_load()
    _patch_checkpoint_io()
    _patch_url_loaders()


class _HookedLoader(importlib.abc.Loader):
    """A module's own loader, then the hooks waiting for that module."""

    def __init__(self, loader, hooks):
        self._loader = loader
        self._hooks = hooks

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        for hook in self._hooks:
            hook()

    def __getattr__(self, name):  # get_data, get_resource_reader, ...
        return getattr(self._loader, name)


class _PostImportHooks(importlib.abc.MetaPathFinder):
    """Run a function right after a module is first imported (PEP 369's
    post-import hooks): the module is found by the other finders as usual,
    and its loader is wrapped so that the hooks run when it has executed."""

    def __init__(self):
        self.hooks = {}
        self._finding = set()

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in self.hooks or fullname in self._finding:
            return None
        self._finding.add(fullname)
        try:
            for finder in sys.meta_path:
                if finder is self or not hasattr(finder, 'find_spec'):
                    continue
                spec = finder.find_spec(fullname, path, target)
                if spec is not None:
                    break
            else:
                return None
        finally:
            self._finding.discard(fullname)
        if spec.loader is not None:
            spec.loader = _HookedLoader(spec.loader, self.hooks.pop(fullname))
        return spec


_POST_IMPORT = _PostImportHooks()


def when_imported(name: str, hook) -> None:
    """Call ``hook()`` once module ``name`` is imported: now if it already
    is, else right after its first import."""
    if name in sys.modules:
        hook()
        return
    _POST_IMPORT.hooks.setdefault(name, []).append(hook)
    if _POST_IMPORT not in sys.meta_path:
        sys.meta_path.insert(0, _POST_IMPORT)


def install_compat_patches() -> None:
    """What ``import mmfusion`` does: each patch is applied when the module
    of mmengine it patches is first imported (at once if it already is), so
    a tool that never builds a runner or a model (``eval_fused.py``) does not
    pay for importing them (~1 s: ``mmengine.runner`` pulls in
    ``torch.distributed``'s FSDP and tensor-parallel packages). The
    checkpoint allow-list waits for ``mmengine.logging`` (which every
    mmengine import imports): checkpoints holding mmengine's objects are
    written and read with mmengine imported, and a tool that never imports
    mmengine does not pay ~0.3 s for it."""
    global _APPLIED
    if _APPLIED:
        return
    when_imported('mmengine.logging.history_buffer', _register_safe_globals)
    when_imported('mmengine.runner', _patch_runner)
    # init_dist may run before anything imports mmengine.model (task_eval)
    when_imported('mmengine.dist.utils', _patch_cpu_init_dist)
    when_imported('mmengine.model', _patch_cpu_ddp)
    _check_pkg_resources()
    _APPLIED = True


def apply_compat_patches() -> None:
    """Apply every compatibility patch now (importing what they patch)."""
    install_compat_patches()
    import mmengine.model  # noqa: F401  (the hooks run here at the latest)
    import mmengine.runner  # noqa: F401


def _destroy_process_group() -> None:
    import torch.distributed as torch_dist
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.destroy_process_group()


def _patch_cpu_distributed() -> None:
    """Let ``--launcher pytorch`` run on CPU-only machines (gloo), and
    destroy the process group at exit.

    mmengine 0.10.7 calls ``torch.cuda.set_device`` unconditionally and wraps
    the model in DDP with ``device_ids=[LOCAL_RANK]``; both fail without CUDA.
    Here, without CUDA, the process group is created with gloo and CPU modules
    are wrapped with ``device_ids=None``. Machines with CUDA are untouched.
    """
    _patch_cpu_init_dist()
    _patch_cpu_ddp()


def _patch_cpu_init_dist() -> None:
    """The process-group half of :func:`_patch_cpu_distributed`."""
    import mmengine.dist.utils as dist_utils

    if getattr(dist_utils._init_dist_pytorch, '_mmfusion_patched', False):
        return
    original_init = dist_utils._init_dist_pytorch

    def _init_dist_pytorch(backend, init_backend='torch', **kwargs):
        # mmengine never destroys the group; torch asks for it before exit,
        # and a gloo group torn down with the interpreter can abort the
        # process after a finished run ("terminate called without an
        # active exception", seen on 1 of ~5 CPU runs here)
        atexit.register(_destroy_process_group)
        if torch.cuda.is_available() or init_backend != 'torch':
            return original_init(backend, init_backend=init_backend, **kwargs)
        import torch.distributed as torch_dist
        torch_dist.init_process_group(backend='gloo', **kwargs)

    _init_dist_pytorch._mmfusion_patched = True
    dist_utils._init_dist_pytorch = _init_dist_pytorch


def _patch_cpu_ddp() -> None:
    """The DDP half of :func:`_patch_cpu_distributed`."""
    from mmengine.model import MMDistributedDataParallel

    if getattr(MMDistributedDataParallel.__init__, '_mmfusion_patched', False):
        return
    original_ddp_init = MMDistributedDataParallel.__init__

    def ddp_init(self, module, detect_anomalous_params=False, **kwargs):
        params = list(module.parameters())
        if params and all(p.device.type == 'cpu' for p in params):
            kwargs['device_ids'] = None
            kwargs.pop('output_device', None)
        original_ddp_init(
            self,
            module,
            detect_anomalous_params=detect_anomalous_params,
            **kwargs)

    ddp_init._mmfusion_patched = True
    MMDistributedDataParallel.__init__ = ddp_init
