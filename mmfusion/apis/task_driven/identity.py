# Copyright (c) mmfusion contributors. All rights reserved.
"""Run identity and caching of the task-driven protocol (and of the
task-gain experiment's fusion trainings, :mod:`mmfusion.apis.task_gain`): a
finished run is kept with a hash of what produced it (the resolved config
and the state of the images it read), reused when the hash matches, resumed
when an interrupted run of the same identity left a checkpoint, and moved
aside otherwise. Nothing is deleted.

The config enters the hash as :func:`config_content` (its values, not their
formatting: no yapf, milliseconds, and unchanged by a yapf upgrade). Records
made before (hash of the yapf-formatted ``Config.pretty_text``) are still
recognised: :class:`RunIdentity` computes that old hash only when a record
does not match the new one, so an experiment's committed state
(:mod:`mmfusion.apis.task_gain.state`) keeps its finished units."""
import copy
import hashlib
import inspect
import json
import math
import os
import os.path as osp
import time
from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np
from mmengine.config import Config
from mmengine.dist import get_world_size

from mmfusion.datasets.pairing import IMG_EXTENSIONS
from mmfusion.utils.config_text import pretty_text
from mmfusion.utils.fileio import atomic_path
from .configs import LOADERS, leaf_datasets

__all__ = [
    'RESULT_FILE', 'FUSED_MARK', 'IDENTITY_FILE', 'folder_signature',
    'config_content', 'RunIdentity', 'config_hash', 'write_json',
    'json_metrics', 'plain_number', 'load_record', 'load_result', 'claim_run'
]

#: a finished run's metrics and identity, in the run's work dir
RESULT_FILE = 'task_metrics.json'
#: what fused a folder of a checkpoint source's images
FUSED_MARK = '.fused_by.json'
#: the identity of the run a work dir holds (resume only the same one)
IDENTITY_FILE = 'run_identity.json'

_FILE_DIGESTS: Dict[Tuple[str, int, int], str] = {}


def _file_digest(path: str) -> str:
    """SHA-1 of a file's bytes, kept per (path, size, mtime) in this
    process."""
    st = os.stat(path)
    key = (path, st.st_size, st.st_mtime_ns)
    digest = _FILE_DIGESTS.get(key)
    if digest is None:
        with open(path, 'rb') as f:
            digest = _FILE_DIGESTS[key] = hashlib.sha1(f.read()).hexdigest()
    return digest


def folder_signature(folder: str) -> str:
    """Names and contents of a folder's images: changes when its images do,
    not when the same images are written again (a re-fused folder, e.g. on
    another machine after :mod:`mmfusion.apis.task_gain.state` restored the
    nets and results)."""
    digest = hashlib.sha1()
    for name in sorted(os.listdir(folder)):
        if osp.splitext(name)[1].lower() in IMG_EXTENSIONS:
            digest.update(
                f'{name}:{_file_digest(osp.join(folder, name))};'.encode())
    return digest.hexdigest()


def config_content(obj: Any) -> str:
    """The content of a config (or of any value in one) as text: dict keys
    sorted, lists and tuples kept apart, numbers by their shortest exact
    ``repr``, classes and functions by their qualified name. Two configs
    that read the same give the same text, whatever their formatting or key
    order."""
    if isinstance(obj, Config):
        obj = obj._cfg_dict
    if isinstance(obj, dict):
        items = sorted(
            (config_content(k), config_content(v)) for k, v in obj.items())
        return '{' + ','.join(f'{k}:{v}' for k, v in items) + '}'
    if isinstance(obj, (list, tuple)):
        inner = ','.join(config_content(v) for v in obj)
        return f'[{inner}]' if isinstance(obj, list) else f'({inner},)'
    if obj is None or isinstance(obj, (bool, int, float, str, bytes)):
        return repr(obj)
    if isinstance(obj, type) or inspect.isroutine(obj):
        return f'<{obj.__module__}.{obj.__qualname__}>'
    return f'<{type(obj).__module__}.{type(obj).__qualname__}:{obj!r}>'


class RunIdentity(str):
    """A run identity (the hash of what produced the run), which also
    recognises the identity of the same run written by earlier versions
    (the hash of the yapf-formatted config text), computed only when asked
    by :meth:`matches`."""

    def __new__(cls, value: str, legacy: Optional[Callable[[], str]] = None):
        identity = super().__new__(cls, value)
        identity._legacy = legacy
        identity._legacy_value = None
        return identity

    def matches(self, saved: Optional[str]) -> bool:
        """Whether a saved ``config_hash`` is this identity (as written by
        this version or an earlier one)."""
        if saved is None:
            return False
        if saved == self:
            return True
        if self._legacy is None:
            return False
        if self._legacy_value is None:
            self._legacy_value = self._legacy()
        return saved == self._legacy_value


def _same(saved: Optional[str], identity: str) -> bool:
    if isinstance(identity, RunIdentity):
        return identity.matches(saved)
    return saved == identity


def config_hash(cfg: Config) -> RunIdentity:
    """Identity of one source's task run: the resolved config (without
    run-specific names) and, for fused inputs, the state of the fused
    images it reads (re-fused or replaced images invalidate the result)."""
    folders = sorted({
        leaf['data_prefix']['fused']
        for key in LOADERS if cfg.get(key)
        for leaf in leaf_datasets(cfg[key]['dataset'])
        if leaf.get('data_prefix', {}).get('fused')
    })
    cfg = copy.deepcopy(cfg)
    for key in ('work_dir', 'experiment_name', 'resume', 'launcher'):
        cfg.pop(key, None)
    if isinstance(cfg.get('visualizer'), dict):
        cfg.visualizer.pop('name', None)  # the run's timestamp
    # the world size sets the effective batch: a 1-GPU result is not an
    # 8-GPU one
    tail = f'world_size={get_world_size()}' + ''.join(
        folder_signature(f) for f in folders if osp.isdir(f))

    def digest(text: str) -> str:
        return hashlib.sha1(text.encode()).hexdigest()[:16]

    return RunIdentity(
        digest('content:' + config_content(cfg) + tail),
        legacy=lambda: digest(pretty_text(cfg) + tail))


def write_json(path: str, obj) -> None:
    """Write atomically (a reader never sees half a file)."""
    with atomic_path(path) as tmp, open(tmp, 'w') as f:
        json.dump(obj, f, indent=1)


def json_metrics(metrics: dict) -> dict:
    """NaN (a class absent from the test split) as ``null``: strict JSON."""
    return {
        k: None if isinstance(v, float) and math.isnan(v) else v
        for k, v in metrics.items()
    }


def plain_number(value):
    """A JSON-friendly number: metrics come as numpy/torch scalars, float32
    ones written with their shortest exact decimal (``94.35``, not
    ``94.3499984741211``)."""
    if hasattr(value, 'detach'):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(())[()]
    if isinstance(value, np.floating):
        return float(np.format_float_positional(value, unique=True))
    if isinstance(value, np.integer):
        return int(value)
    return value


def load_record(path: str,
                identity: str,
                log: Callable[[str], None] = print) -> Optional[dict]:
    """The record (a JSON object with a ``config_hash``) saved in ``path``
    if made by the run identity ``identity``, else ``None``: what a finished
    run left (task metrics, a trained checkpoint)."""
    if not osp.isfile(path):
        return None
    with open(path) as f:
        saved = json.load(f)
    if not _same(saved.get('config_hash'), identity):
        log(f'{path} was made by another configuration or other images')
        return None
    return saved


def load_result(
        path: str,
        identity: str,
        log: Callable[[str], None] = print) -> Optional[Dict[str, float]]:
    """The metrics saved in ``path`` (a :data:`RESULT_FILE`) if made by
    the run identity ``identity``, else ``None``."""
    saved = load_record(path, identity, log)
    if saved is None:
        return None
    return {
        k: float('nan') if v is None else v
        for k, v in saved['metrics'].items()
    }


def claim_run(work_dir: str,
              identity: str,
              source: str,
              rerun: bool,
              log: Callable[[str], None] = print) -> str:
    """``'resume'`` if ``work_dir`` holds an interrupted run of this
    identity (and not ``rerun``), else ``'fresh'``: a work dir holding
    anything else is moved aside (``<work_dir>.replaced-<time>``) and the
    identity recorded, so that only a run of the same identity is ever
    resumed."""
    id_file = osp.join(work_dir, IDENTITY_FILE)
    if not rerun and osp.isfile(osp.join(
            work_dir, 'last_checkpoint')) and osp.isfile(id_file):
        with open(id_file) as f:
            if _same(json.load(f).get('config_hash'), identity):
                return 'resume'
    if osp.isdir(work_dir) and os.listdir(work_dir):
        aside = f'{work_dir}.replaced-{time.strftime("%Y%m%d_%H%M%S")}'
        os.replace(work_dir, aside)
        log(f'{work_dir} held a run of another configuration: moved to '
            f'{aside}')
    os.makedirs(work_dir, exist_ok=True)
    write_json(id_file, dict(source=source, config_hash=identity))
    return 'fresh'
