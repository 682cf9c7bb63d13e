# Copyright (c) mmfusion contributors. All rights reserved.
"""The experiment config (a *preset*, ``configs/task_gain/task_gain_*.py``)
and the fusion trainings it asks for.

A preset names the data, the task config of the protocol, its ``seeds``,
the ``fusion_seeds`` of the fusion trainings, the fixed ``rules``, the
``released`` weights and the ``methods``; a method entry::

    dict(name='TDFusion', config='configs/task_gain/tdfusion_r18_160x120.py',
         warmup=None,             # a config trained first (its checkpoint
                                  # initialises the fusion net)
         cfg_options={}, quick_cfg_options={},
         warmup_cfg_options={}, quick_warmup_cfg_options={},
         twin=dict(name='TDFusion twin', config='...twin.py',
                   cfg_options={}, quick_cfg_options={}))

The twin (the same net, data, initialisation and schedule without the
task-driven part) is trained under every fusion seed next to its method,
from the same warm-up checkpoint, with the method's options (schedule
overrides) and then its own.
"""
import copy
import os.path as osp
from dataclasses import dataclass
from typing import List, Optional, Sequence

from mmengine.config import Config

from ..task_driven import InputSource

__all__ = [
    'REPO_ROOT', 'repo_path', 'set_data_root', 'load_cfg', 'load_preset',
    'FusionRun', 'fusion_runs'
]

REPO_ROOT = osp.dirname(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def repo_path(path: str) -> str:
    """A path of the preset relative to the working directory, else to the
    repository (configs and ``../shared`` data work from either)."""
    if osp.isabs(path) or osp.exists(path):
        return osp.abspath(path)
    return osp.abspath(osp.join(REPO_ROOT, path))


def set_data_root(cfg, root: str) -> int:
    """Set ``data_root`` of every dataset config in ``cfg`` (dataloaders,
    extra dataloaders) to ``root``; returns how many were set."""
    count = 0

    def visit(node):
        nonlocal count
        if isinstance(node, dict):
            if 'data_root' in node and 'type' in node:
                node['data_root'] = root
                count += 1
            for v in node.values():
                visit(v)
        elif isinstance(node, (list, tuple)):
            for v in node:
                visit(v)

    for key in list(cfg.keys()):
        if key.endswith('dataloader') or key == 'train_cfg':
            visit(cfg[key])
    return count


def load_cfg(path: str,
             data_root: Optional[str],
             options: Optional[dict] = None) -> Config:
    """A config file with ``options`` merged and its datasets reading
    ``data_root``."""
    path = repo_path(path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'config {path} does not exist')
    cfg = Config.fromfile(path)
    if options:
        cfg.merge_from_dict(copy.deepcopy(dict(options)))
    if data_root is not None:
        set_data_root(cfg, data_root)
    return cfg


def load_preset(cfg, quick: bool = False) -> Config:
    """The preset (path or ``Config``), with its ``quick`` settings merged
    when ``quick``; checks the names of its inputs."""
    name = cfg if isinstance(cfg, str) else \
        getattr(cfg, 'filename', None) or '<config>'
    cfg = Config.fromfile(cfg) if isinstance(cfg, str) else \
        copy.deepcopy(cfg)
    if quick:
        if 'quick' not in cfg:
            raise KeyError(f'{name} has no `quick` settings')
        cfg.merge_from_dict(copy.deepcopy(dict(cfg.quick)))
    for m in cfg.get('methods', []):
        twin = m.get('twin')
        if twin is not None and not (twin.get('name') and twin.get('config')):
            raise ValueError(f'{name}: the twin of {m.name!r} needs a name '
                             f'and a config, got {dict(twin)}')
    names = [m.name for m in cfg.get('methods', [])] + \
        [m.twin.name for m in cfg.get('methods', []) if m.get('twin')] + \
        [r.name for r in cfg.get('rules', [])] + \
        [r.name for r in cfg.get('released', [])]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ValueError(f'{name}: input names must be distinct: '
                         f'{sorted(dup)}')
    seeds = [int(s) for s in cfg.get('fusion_seeds', [0])]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f'{name}: fusion_seeds must be distinct and at '
                         f'least one, got {seeds}')
    return cfg


def _options(item: dict, key: str, quick: bool) -> dict:
    """``item[key]``, updated with ``item['quick_' + key]`` when
    ``quick``."""
    options = dict(item.get(key) or {})
    if quick:
        options.update(item.get(f'quick_{key}') or {})
    return options


@dataclass
class FusionRun:
    """One fusion training of the experiment.

    Args:
        method: the method entry's name.
        role: ``'warmup'``, ``'method'`` or ``'twin'``.
        name: the row name of the trained net in the task table (the
            method's or twin's name, with ``s<seed>`` under several fusion
            seeds).
        seed: the fusion seed (``randomness.seed`` of the training).
        config: the config file; ``options`` merged into it.
        work_dir: where it trains.
        warmup: the warm-up run whose checkpoint initialises the fusion net.
    """
    method: str
    role: str
    name: str
    seed: int
    config: str
    options: dict
    work_dir: str
    warmup: Optional['FusionRun'] = None

    @property
    def label(self) -> str:
        return f'{self.method} {self.role}, fusion seed {self.seed}'

    @property
    def kind(self) -> str:
        """What runs of the same cost share (for the time estimate)."""
        return f'train/{self.method}/{self.role}'

    @property
    def key(self) -> str:
        return f'{self.kind}/seed_{self.seed}'


def fusion_runs(cfg: Config,
                work_dir: str,
                quick: bool,
                fusion_seeds: Sequence[int],
                methods: Optional[Sequence[str]] = None) -> List[FusionRun]:
    """The fusion trainings of a preset, seed-major (all methods of the
    first fusion seed first: an interrupted experiment has complete pairs
    early), each warm-up before its method and twin.

    Work dirs: ``methods/<name>/[seed_<s>/]{warmup,train}`` (``seed_<s>``
    under several fusion seeds); a twin's is ``methods/<twin name>/...``.
    """
    multi = len(fusion_seeds) > 1
    runs: List[FusionRun] = []
    for seed in fusion_seeds:
        for m in cfg.get('methods', []):
            if methods is not None and m.name not in methods:
                continue

            def folder(name, sub):
                root = osp.join(work_dir, 'methods',
                                InputSource(name, 'vis').slug)
                if multi:
                    root = osp.join(root, f'seed_{seed}')
                return osp.join(root, sub)

            def row(name):
                return f'{name} s{seed}' if multi else name

            warm = None
            if m.get('warmup'):
                warm = FusionRun(m.name, 'warmup', row(f'{m.name} warm-up'),
                                 seed, m.warmup,
                                 _options(m, 'warmup_cfg_options', quick),
                                 folder(m.name, 'warmup'))
                runs.append(warm)
            options = _options(m, 'cfg_options', quick)
            runs.append(
                FusionRun(m.name, 'method', row(m.name), seed, m.config,
                          options, folder(m.name, 'train'), warm))
            if m.get('twin'):
                twin = m.twin
                runs.append(
                    FusionRun(
                        m.name, 'twin', row(twin.name), seed, twin.config,
                        dict(options, **_options(twin, 'cfg_options', quick)),
                        folder(twin.name, 'train'), warm))
    return runs
