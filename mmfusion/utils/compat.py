# Copyright (c) mmfusion contributors. All rights reserved.
"""Compatibility fixes that make the pinned OpenMMLab stack work on torch 2.13.

Applied once when ``mmfusion`` is imported (idempotent).

* **Checkpoint loading (torch >= 2.6).** ``torch.load`` defaults to
  ``weights_only=True`` since torch 2.6. Checkpoints written by mmengine 0.10.x
  contain, besides tensors, the message hub's :class:`HistoryBuffer` objects and
  the numpy arrays/scalars they hold, so ``runner.resume()`` (and
  ``load_checkpoint`` of any checkpoint with ``meta``) raises
  ``UnpicklingError: Unsupported global``. Instead of turning the safe loader
  off (``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` or ``weights_only=False``, which
  would let any pickle execute code), the exact classes mmengine writes are
  added to torch's allow-list, so mmengine, mmseg and mmdet loaders keep using
  the safe unpickler. mmengine's HistoryBuffer is made to pickle without the
  ``builtins.getattr`` references stock mmengine writes, and checkpoints
  written by stock mmengine (which have them) still load through
  :func:`load_checkpoint_file`, which admits exactly that one global.
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
* **mmdet 3.3.0's SSD cannot predict**: ``BaseDenseHead._predict_by_feat_single``
  reads ``self.loss_cls``, which ``SSDHead`` (its own loss) never sets:
  ``AttributeError`` at the first validation. ``SSDHead.loss_cls = None``
  (:func:`patch_mmdet`, applied when an mmdet task is built).
* **``pkg_resources``.** mmengine resolves ``mmseg::``/``mmdet::`` config paths
  with ``pkg_resources``, removed in setuptools 81: warn at import with the fix.
"""
import atexit
import importlib.util
import os.path as osp
import pickle
import warnings

import numpy as np
import torch

_APPLIED = False


def _numpy_safe_globals() -> list:
    """numpy objects that appear in pickled arrays and scalars."""
    try:  # numpy >= 2
        from numpy._core import multiarray
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray
    safe = [multiarray._reconstruct, multiarray.scalar, np.ndarray, np.dtype]
    for name in ('bool_', 'int8', 'int16', 'int32', 'int64', 'uint8',
                 'uint16', 'uint32', 'uint64', 'float16', 'float32',
                 'float64', 'longlong', 'ulonglong', 'str_', 'bytes_'):
        scalar_type = getattr(np, name)
        safe.append(scalar_type)
        safe.append(type(np.dtype(scalar_type)))  # e.g. dtypes.Float64DType
    # Pickles written under numpy 1.x name these by their old module path;
    # torch matches allow-list entries by that name.
    safe.append((multiarray._reconstruct, 'numpy.core.multiarray._reconstruct'))
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


def load_checkpoint_file(filename: str, map_location=None):
    """``torch.load`` for checkpoint files, with the safe unpickler.

    Checkpoints written by mmfusion hold only allow-listed objects. A
    checkpoint written by stock mmengine 0.10.x on torch >= 2.6 additionally
    references ``builtins.getattr`` (its HistoryBuffer statistics methods):
    exactly that global, and nothing else, is admitted for such a file. Any
    other unsupported global is still refused, with torch's message.
    """
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


def _patch_weights_only_load() -> None:
    if not hasattr(torch.serialization, 'add_safe_globals'):
        return  # torch < 2.4 loads everything unrestricted anyway
    from mmengine.logging.history_buffer import HistoryBuffer
    from mmengine.runner.checkpoint import CheckpointLoader

    torch.serialization.add_safe_globals(checkpoint_safe_globals())
    HistoryBuffer.__getstate__ = _history_buffer_getstate

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
        prefixes=('http://', 'https://'), force=True)(from_http)
    CheckpointLoader.register_scheme(
        prefixes='torchvision://', force=True)(from_torchvision)
    CheckpointLoader.register_scheme(
        prefixes=('open-mmlab://', 'openmmlab://'), force=True)(from_openmmlab)
    ckpt._mmfusion_url_loaders = True


def patch_mmdet() -> None:
    """Fixes for mmdet 3.3.0 (see the module docstring); idempotent."""
    from mmdet.models.dense_heads import SSDHead
    if not hasattr(SSDHead, 'loss_cls'):
        SSDHead.loss_cls = None


def _check_pkg_resources() -> None:
    """Warn with the fix if ``pkg_resources`` (setuptools<81) is missing."""
    if importlib.util.find_spec('pkg_resources') is None:
        warnings.warn(
            'mmengine needs `pkg_resources` to resolve `mmseg::`/`mmdet::` '
            'config paths, and setuptools>=81 no longer ships it. Run '
            '`pip install "setuptools<81"`.')


def apply_compat_patches() -> None:
    """Apply every compatibility patch once."""
    global _APPLIED
    if _APPLIED:
        return
    _patch_weights_only_load()
    _patch_url_loaders()
    _patch_cpu_distributed()
    _check_pkg_resources()
    _APPLIED = True


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
    import mmengine.dist.utils as dist_utils
    from mmengine.model import MMDistributedDataParallel

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

    original_ddp_init = MMDistributedDataParallel.__init__

    def ddp_init(self, module, detect_anomalous_params=False, **kwargs):
        params = list(module.parameters())
        if params and all(p.device.type == 'cpu' for p in params):
            kwargs['device_ids'] = None
            kwargs.pop('output_device', None)
        original_ddp_init(
            self, module,
            detect_anomalous_params=detect_anomalous_params, **kwargs)

    MMDistributedDataParallel.__init__ = ddp_init
