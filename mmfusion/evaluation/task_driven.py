# Copyright (c) mmfusion contributors. All rights reserved.
"""Task-driven evaluation: how well does a downstream model do on the fused
images of a method, compared with the visible and the infrared image alone?

The protocol (SeAFusion's "task-driven evaluation", with the single-modality
baselines a fair comparison needs):

1. every input source gets the images of the dataset's pairs: the VIS or IR
   image itself, the fused images an mmfusion checkpoint produces (written
   once to ``work_dir/fused/<source>/``), or a folder of fused images from
   any external method;
2. a fresh task model (any mmseg/mmdet model, from the *task config*) is
   trained on each source's images of the training split, with the same
   seed, schedule and pipeline, and tested on the same source's images of
   the test split;
3. the task metrics are reported side by side (markdown, CSV, JSON and a
   bar plot).

The task config is an ordinary mmseg/mmdet config whose dataloaders read a
paired mmfusion dataset (``MSRSDataset``, ``FMBDataset``, ``M3FDDataset``,
``LLVIPDataset``, ``PairedImageDataset``) with
:class:`~mmfusion.datasets.transforms.LoadModalityImage` first in the
pipeline; the labels, pair list and pipeline are therefore identical for
every source and only ``LoadModalityImage.modality`` (and the dataset's
``data_prefix['fused']``) change. See ``configs/task_eval/`` and
``docs/task_driven_evaluation.md``.

Everything that can be checked is checked before the first training starts
(configs, checkpoints, every pair's fused image: present, readable, of the
pair's size), and a finished source is never trained twice: its metrics are
kept in ``work_dir/<source>/task_metrics.json`` with a hash of the
configuration that produced them, and an interrupted training resumes from
its last checkpoint.
"""
import copy
import csv
import hashlib
import json
import math
import os
import os.path as osp
import re
import time
import warnings
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.config import Config, ConfigDict
from mmengine.dist import (barrier, broadcast_object_list, get_dist_info,
                           get_rank, get_world_size, is_distributed)
from mmengine.logging import MMLogger, print_log
from mmengine.registry import DefaultScope

from mmfusion.utils.runner_names import set_unique_run_name

__all__ = [
    'InputSource', 'TaskEvalResult', 'TaskDrivenEvaluation',
    'modality_loaders', 'resolve_fused_folder', 'default_plot_metrics',
    'write_task_report'
]

LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
RESULT_FILE = 'task_metrics.json'
_FUSED_MARK = '.fused_by.json'
_IDENTITY_FILE = 'run_identity.json'


@dataclass
class InputSource:
    """One row of the task-driven table: what the task model sees.

    Args:
        name: row label (``'VIS'``, ``'IR'``, a method name); must be unique.
        modality: ``'vis'``, ``'ir'`` or ``'fused'``.
        fused_dir: folder of an external method's fused images (``'fused'``
            sources), flat or with one sub-folder per split (see
            :func:`resolve_fused_folder`).
        model_config, checkpoint: an mmfusion model that fuses the pairs
            (``'fused'`` sources without ``fused_dir``).
    """
    name: str
    modality: str
    fused_dir: Optional[str] = None
    model_config: Optional[str] = None
    checkpoint: Optional[str] = None

    def __post_init__(self):
        if self.modality not in ('vis', 'ir', 'fused'):
            raise ValueError(f'source {self.name!r}: modality must be vis, '
                             f'ir or fused, got {self.modality!r}')
        if self.modality == 'fused':
            by_folder = self.fused_dir is not None
            by_model = self.model_config is not None or \
                self.checkpoint is not None
            if by_folder == by_model:
                raise ValueError(
                    f'source {self.name!r}: give either a folder of fused '
                    'images or a model config and checkpoint')
            if by_model and (self.model_config is None
                             or self.checkpoint is None):
                raise ValueError(f'source {self.name!r}: a fusion model '
                                 'needs both its config and its checkpoint')

    @property
    def slug(self) -> str:
        """File-system-safe name (the work sub-folder)."""
        return re.sub(r'[^A-Za-z0-9._-]+', '_', self.name).strip('_') or '_'

    def describe(self) -> str:
        if self.modality == 'vis':
            return 'visible image only'
        if self.modality == 'ir':
            return 'infrared image only'
        if self.fused_dir is not None:
            return f'fused images in `{self.fused_dir}`'
        return f'fused by `{self.model_config}` with `{self.checkpoint}`'

    @classmethod
    def baseline(cls, modality: str) -> 'InputSource':
        return cls(name=modality.upper(), modality=modality)


@dataclass
class TaskEvalResult:
    """Task metrics of every source.

    ``rows[name] = {metric: value}`` holds the value of the single seed, or
    the mean over the seeds when several were run; then ``std`` holds the
    sample standard deviation over the seeds (``ddof=1``) and ``runs`` every
    seed's own metrics (``runs[name][seed] = {metric: value}``).
    """
    task_config: str
    sources: List[InputSource]
    rows: Dict[str, Dict[str, float]] = field(default_factory=dict)
    seed: Optional[int] = None
    num_pairs: Dict[str, int] = field(default_factory=dict)
    seeds: List[Optional[int]] = field(default_factory=list)
    std: Dict[str, Dict[str, float]] = field(default_factory=dict)
    runs: Dict[str, Dict[Optional[int], Dict[str, float]]] = field(
        default_factory=dict)

    def __post_init__(self):
        if not self.seeds:
            self.seeds = [self.seed]
        elif self.seed is None:
            self.seed = self.seeds[0]

    @property
    def multi_seed(self) -> bool:
        return len(self.seeds) > 1

    def add(self, name: str, runs: Dict[Optional[int], Dict[str, float]]
            ) -> None:
        """Record one source's metrics of every seed: ``rows`` gets their
        mean (a class absent from the test split stays NaN), ``std`` their
        sample standard deviation (NaN with one seed)."""
        self.runs[name] = dict(runs)
        self.rows[name], self.std[name] = aggregate_seeds(list(runs.values()))

    @property
    def metrics(self) -> List[str]:
        """Metric names in first-seen order over the sources."""
        names: List[str] = []
        for row in self.rows.values():
            names += [k for k in row if k not in names]
        return names


def aggregate_seeds(runs: Sequence[Dict[str, float]]) -> tuple:
    """``(mean, std)`` of each metric over several runs (seeds): the mean of
    the finite values (NaN when none is, e.g. a class absent from the test
    split) and their sample standard deviation (``ddof=1``; NaN for fewer
    than two finite values). Non-numeric values are taken from the first
    run."""
    names: List[str] = []
    for run in runs:
        names += [k for k in run if k not in names]
    mean, std = {}, {}
    for k in names:
        values = [r.get(k) for r in runs]
        numbers = [float(v) for v in values
                   if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if len(numbers) != len([v for v in values if v is not None]):
            mean[k], std[k] = values[0], float('nan')
            continue
        finite = [v for v in numbers if math.isfinite(v)]
        mean[k] = float(np.mean(finite)) if finite else float('nan')
        std[k] = float(np.std(finite, ddof=1)) if len(finite) > 1 else \
            float('nan')
    return mean, std


# ----------------------------------------------------------------------
# config handling
# ----------------------------------------------------------------------
def _leaf_datasets(dataset_cfg) -> List[ConfigDict]:
    """The datasets that read files, under dataset wrappers
    (``RepeatDataset``/``ClassBalancedDataset``: ``dataset``;
    ``ConcatDataset``: ``datasets``)."""
    if 'datasets' in dataset_cfg:
        return [
            leaf for d in dataset_cfg['datasets'] for leaf in _leaf_datasets(d)
        ]
    if 'dataset' in dataset_cfg:
        return _leaf_datasets(dataset_cfg['dataset'])
    return [dataset_cfg]


def _modality_transforms(dataset_cfg) -> List[ConfigDict]:
    return [
        t for t in dataset_cfg.get('pipeline', [])
        if isinstance(t, dict)
        and str(t.get('type', '')).split('.')[-1] == 'LoadModalityImage'
    ]


def modality_loaders(cfg: Config) -> Dict[str, List[ConfigDict]]:
    """``{loader key: [leaf dataset configs]}`` of the config's dataloaders.

    Raises:
        ValueError: if the config has no training dataloader, or a dataset
            of a dataloader does not load its images with
            ``LoadModalityImage`` (it would ignore the input source).
    """
    if not cfg.get('train_dataloader'):
        raise ValueError('the task config has no train_dataloader: task-'
                         'driven evaluation trains a fresh task model')
    found = {}
    for key in LOADERS:
        loader = cfg.get(key)
        if not loader:
            continue
        leaves = _leaf_datasets(loader['dataset'])
        for leaf in leaves:
            if len(_modality_transforms(leaf)) != 1:
                raise ValueError(
                    f'{key}: the pipeline of dataset {leaf.get("type")} '
                    f'(data_root={leaf.get("data_root")!r}) must load its '
                    'image with exactly one '
                    "dict(type='mmfusion.LoadModalityImage'), which selects "
                    'the input source of each evaluated variant')
            if 'data_prefix' not in leaf or 'vis' not in leaf['data_prefix']:
                raise ValueError(
                    f'{key}: dataset {leaf.get("type")} needs a paired '
                    "data_prefix (dict(ir=..., vis=..., ...)); task-driven "
                    'evaluation reads paired mmfusion datasets')
        found[key] = leaves
    return found


def _vis_prefix(leaf: ConfigDict) -> str:
    """The VIS folder of a dataset relative to its data root (as written in
    the config, normalised)."""
    return osp.normpath(leaf['data_prefix']['vis'])


def resolve_fused_folder(fused_dir: str, vis_prefix: str) -> str:
    """The folder holding an external method's fused images of the split
    whose VIS images are in ``vis_prefix`` (relative to the data root).

    In order: ``fused_dir/<vis_prefix>`` (a mirror of the dataset layout,
    e.g. ``DIR/test/vi``), ``fused_dir/<a folder name of vis_prefix>``
    (``DIR/test``, ``DIR/train``; the first existing one), else
    ``fused_dir`` itself (one flat folder for all splits: extra images are
    ignored, so it may hold every split's images).
    """
    if not osp.isdir(fused_dir):
        raise FileNotFoundError(f'folder of fused images {fused_dir} does '
                                'not exist')
    if not osp.isabs(vis_prefix):
        mirror = osp.join(fused_dir, vis_prefix)
        if osp.isdir(mirror):
            return mirror
        for part in vis_prefix.split(os.sep):
            if part not in ('', '.', '..') and osp.isdir(
                    osp.join(fused_dir, part)):
                return osp.join(fused_dir, part)
    return fused_dir


def _folder_signature(folder: str) -> str:
    """Names, sizes and modification times of a folder's images: changes
    when its images do."""
    from mmfusion.datasets.checks import IMG_EXTENSIONS
    digest = hashlib.sha1()
    for name in sorted(os.listdir(folder)):
        if osp.splitext(name)[1].lower() in IMG_EXTENSIONS:
            st = os.stat(osp.join(folder, name))
            digest.update(f'{name}:{st.st_size}:{st.st_mtime_ns};'.encode())
    return digest.hexdigest()


def _config_hash(cfg: Config) -> str:
    """Identity of one source's task run: the resolved config (without
    run-specific names) and, for fused inputs, the state of the fused
    images it reads (re-fused or replaced images invalidate the result)."""
    folders = sorted({
        leaf['data_prefix']['fused']
        for key in LOADERS if cfg.get(key)
        for leaf in _leaf_datasets(cfg[key]['dataset'])
        if leaf.get('data_prefix', {}).get('fused')
    })
    cfg = copy.deepcopy(cfg)
    for key in ('work_dir', 'experiment_name', 'resume', 'launcher'):
        cfg.pop(key, None)
    if isinstance(cfg.get('visualizer'), dict):
        cfg.visualizer.pop('name', None)  # the run's timestamp
    # the world size sets the effective batch: a 1-GPU result is not an
    # 8-GPU one
    text = cfg.pretty_text + f'world_size={get_world_size()}' + ''.join(
        _folder_signature(f) for f in folders if osp.isdir(f))
    return hashlib.sha1(text.encode()).hexdigest()[:16]


# ----------------------------------------------------------------------
# the protocol
# ----------------------------------------------------------------------
class TaskDrivenEvaluation:
    """Train and test one task model per input source, and compare.

    Args:
        task_cfg: the task config (path or ``Config``), see module docs.
        sources: input sources, in table order (baselines included by the
            caller, e.g. ``InputSource.baseline('vis')``).
        work_dir: everything is written there: ``fused/<source>/`` (images
            of checkpoint sources), ``<source>/`` (each task run: logs,
            checkpoints, ``task_metrics.json``) and the report.
        seed: the seed of every task run (the same for all sources, so that
            they differ by their input only); ``None`` keeps the config's.
        seeds: several seeds instead of ``seed``: every source is trained
            once per seed (each run in ``<source>/seed_<seed>/``) and the
            report gives the mean and standard deviation over the seeds.
        launcher: ``'none'`` or the distributed launcher (rank 0 decides
            what to reuse, the ranks share the fusion of the pairs).
        device: device of the fusion models (default: the best available).
        fusion_batch_size: pairs per fusion forward.
        rerun: ignore finished results and fused images and redo them.
    """

    def __init__(self,
                 task_cfg,
                 sources: Sequence[InputSource],
                 work_dir: str,
                 seed: Optional[int] = 0,
                 launcher: str = 'none',
                 device: Optional[str] = None,
                 fusion_batch_size: int = 1,
                 rerun: bool = False,
                 seeds: Optional[Sequence[int]] = None):
        self.cfg_path = task_cfg if isinstance(task_cfg, str) else \
            getattr(task_cfg, 'filename', None) or '<config>'
        self.cfg = Config.fromfile(task_cfg) if isinstance(
            task_cfg, str) else copy.deepcopy(task_cfg)
        if not sources:
            raise ValueError('no input source to evaluate')
        names = [s.name for s in sources]
        slugs = [s.slug for s in sources]
        for what, values in (('name', names), ('folder name', slugs)):
            dup = {v for v in values if values.count(v) > 1}
            if dup:
                raise ValueError(f'input sources must have distinct '
                                 f'{what}s; repeated: {sorted(dup)}')
        if 'fused' in slugs:
            raise ValueError("'fused' is reserved for the fused-image "
                             'folder; rename that source')
        self.sources = list(sources)
        self.work_dir = osp.abspath(work_dir)
        if seeds is not None:
            seeds = [int(x) for x in seeds]
            if not seeds or len(set(seeds)) != len(seeds):
                raise ValueError(f'seeds must be distinct and at least one, '
                                 f'got {seeds}')
        self.seeds: List[Optional[int]] = list(seeds) if seeds else [seed]
        self.seed = self.seeds[0]
        self.launcher = launcher
        self.device = device
        self.fusion_batch_size = fusion_batch_size
        self.rerun = rerun
        self.loaders = modality_loaders(self.cfg)
        self._fused_prefix: Dict[Tuple[str, str], str] = {}
        self._datasets: Dict[int, object] = {}
        self.num_pairs: Dict[str, int] = {}
        # the protocol's own log (WORK_DIR/task_eval.log), apart from the
        # runs' logs
        os.makedirs(self.work_dir, exist_ok=True)
        self.logger = MMLogger.get_instance(
            f'task_eval_{id(self)}_{time.time_ns()}',
            log_file=osp.join(self.work_dir, 'task_eval.log'),
            file_mode='a')

    # -- checks and preparation ------------------------------------------
    def _scope(self):
        return DefaultScope.overwrite_default_scope(
            self.cfg.get('default_scope'))

    def _log(self, msg: str) -> None:
        print_log(f'task-driven evaluation: {msg}', logger=self.logger)

    def _build(self, leaf: ConfigDict, fused: Optional[str] = None):
        """Build (and so check) one dataset, optionally with fused images."""
        from mmengine.registry import DATASETS

        from mmfusion.datasets import PairedImageDataset
        leaf = copy.deepcopy(leaf)
        if fused is not None:
            leaf['data_prefix']['fused'] = fused
        leaf['lazy_init'] = False
        with self._scope():
            dataset = DATASETS.build(leaf)
        if not isinstance(dataset, PairedImageDataset):
            raise TypeError(
                f'{leaf["type"]} is not a paired mmfusion dataset '
                '(PairedImageDataset or a subclass): task-driven evaluation '
                'needs IR/VIS pairs')
        return dataset

    def _dataset(self, leaf: ConfigDict):
        """The dataset of a leaf config of ``self.loaders`` (which hold
        them for the object's life, so ``id`` is stable) as written (no
        fused folder), built once."""
        if id(leaf) not in self._datasets:
            self._datasets[id(leaf)] = self._build(leaf)
        return self._datasets[id(leaf)]

    def _leaves(self):
        return [leaf for leaves in self.loaders.values() for leaf in leaves]

    def _eval_keys(self) -> Tuple[str, str]:
        """The dataloader and evaluator whose metrics are reported: the
        test ones when the config has a test loop (as ``runner.test()``),
        else the validation ones."""
        for mode in ('test', 'val'):
            keys = (f'{mode}_dataloader', f'{mode}_cfg', f'{mode}_evaluator')
            if all(self.cfg.get(k) is not None for k in keys):
                return keys[0], keys[2]
        raise ValueError('the task config has neither a test nor a val '
                         'dataloader + cfg + evaluator: nothing to report')

    def check(self) -> None:
        """Check every config, dataset, evaluator, checkpoint and external
        fused folder before anything is trained (errors name the file)."""
        from mmengine.evaluator import Evaluator
        for key, leaves in self.loaders.items():
            for leaf in leaves:
                dataset = self._dataset(leaf)
                self.num_pairs.setdefault(
                    f'{key}:{_vis_prefix(leaf)}', len(dataset))
        loader_key, evaluator_key = self._eval_keys()
        # the reported evaluator is built with the dataset's classes now:
        # a typo there would otherwise surface after the training
        with self._scope():
            evaluator = Evaluator(copy.deepcopy(self.cfg[evaluator_key]))
            evaluator.dataset_meta = self._dataset(
                self.loaders[loader_key][0]).metainfo
        if self.cfg.get('val_evaluator') is not None and \
                evaluator_key == 'test_evaluator' and \
                self.cfg.val_evaluator != self.cfg.test_evaluator:
            self._log('val_evaluator and test_evaluator differ; the report '
                      'gives test_evaluator\'s metrics')
        for source in self.sources:
            if source.modality != 'fused':
                continue
            if source.fused_dir is not None:
                for leaf in self._leaves():
                    folder = resolve_fused_folder(source.fused_dir,
                                                  _vis_prefix(leaf))
                    self._build(leaf, fused=folder)
                    self._fused_prefix[(source.name, _vis_dir(leaf))] = \
                        osp.abspath(folder)
            else:
                for path, what in ((source.model_config, 'model config'),
                                   (source.checkpoint, 'checkpoint')):
                    if not osp.isfile(path):
                        raise FileNotFoundError(
                            f'source {source.name!r}: {what} {path} does '
                            'not exist')

    def _record_model_folders(self, source: InputSource) -> None:
        """Where a checkpoint source's fused images go: one folder per VIS
        folder the dataloaders read, named by its path below the VIS
        folders' common parent (so splits never share one)."""
        root = osp.join(self.work_dir, 'fused', source.slug)
        rel = _relative_vis_dirs(self._leaves())
        for vis_dir, sub in rel.items():
            self._fused_prefix[(source.name, vis_dir)] = osp.join(root, sub)

    def fused_folder(self, source: InputSource, vis_dir: str) -> str:
        """The folder of a fused source's images of the split whose VIS
        images are in ``vis_dir`` (after :meth:`check` for external folders,
        after :meth:`prepare` for checkpoints)."""
        key = (source.name, osp.normpath(osp.abspath(vis_dir)))
        if key not in self._fused_prefix:
            if source.modality == 'fused' and source.fused_dir is None:
                self._record_model_folders(source)
            if key not in self._fused_prefix:
                raise KeyError(f'no fused folder of {source.name!r} for the '
                               f'split of {vis_dir}')
        return self._fused_prefix[key]

    def _fusion_plan(self, source: InputSource) -> Dict[str, dict]:
        """``{output folder: {'pairs': [(stem, ir, vis)], 'todo': [...],
        'mark': {...}}}`` of a checkpoint source (folders recorded by
        :meth:`_record_model_folders`), each holding every pair of its VIS
        folder (split files applied, before filtering). A folder whose
        marker names the same fusion config content, checkpoint and source
        images is only completed; any other is fused again."""
        ckpt_stat = os.stat(source.checkpoint)
        base = dict(
            config=osp.abspath(source.model_config),
            config_hash=hashlib.sha1(
                Config.fromfile(source.model_config).pretty_text.encode()
            ).hexdigest()[:16],
            checkpoint=osp.abspath(source.checkpoint),
            checkpoint_size=ckpt_stat.st_size,
            checkpoint_mtime_ns=ckpt_stat.st_mtime_ns)
        plan: Dict[str, dict] = {}
        for leaf in self._leaves():
            out = self._fused_prefix[(source.name, _vis_dir(leaf))]
            pairs = plan.setdefault(out, dict(pairs={}))['pairs']
            for stem, ir, vis in self._dataset(leaf).pair_files():
                if pairs.setdefault(stem, (ir, vis)) != (ir, vis):
                    raise ValueError(
                        f'pair {stem!r} of {vis} and {pairs[stem][1]} '
                        f'would share the fused image {out}/{stem}.png')
        for out, item in plan.items():
            pairs = item['pairs']
            sources = sorted({osp.dirname(p) for v in pairs.values()
                              for p in v})
            item['mark'] = mark = dict(
                base,
                source_images=hashlib.sha1(''.join(
                    _folder_signature(d) for d in sources).encode()
                                           ).hexdigest()[:16])
            done = osp.join(out, _FUSED_MARK)
            reuse = False
            if not self.rerun and osp.isfile(done):
                with open(done) as f:
                    reuse = json.load(f) == mark
            item['reuse'] = reuse
            item['todo'] = [(stem, ir, vis)
                            for stem, (ir, vis) in sorted(pairs.items())
                            if not reuse or
                            not osp.isfile(osp.join(out, f'{stem}.png'))]
        return plan

    def _fuse_with_model(self, source: InputSource) -> None:
        """Write the fused image of every pair the dataloaders read (see
        :meth:`_fusion_plan`), the pairs shared among the ranks."""
        self._record_model_folders(source)
        plan = self._fusion_plan(source) if get_rank() == 0 else None
        if is_distributed():  # rank 0 decides, from its view of the disk
            box = [plan]
            broadcast_object_list(box)
            plan = box[0]
        rank, world = get_dist_info()
        if rank == 0:
            for out, item in plan.items():
                done = osp.join(out, _FUSED_MARK)
                if item['todo'] and osp.exists(done) and not item['reuse']:
                    os.remove(done)
        if is_distributed():
            barrier()
        mine = [(out, p) for out, item in plan.items()
                for p in item['todo']][rank::world]
        if mine:
            from mmfusion.apis import FusionInferencer
            fuser = FusionInferencer(
                source.model_config,
                source.checkpoint,
                device=self.device,
                show_progress=rank == 0)
            for out in dict.fromkeys(o for o, _ in mine):
                todo = [p for o, p in mine if o == out]
                self._log(f'fusing {len(todo)} pairs with {source.name!r} '
                          f'into {out}')
                fuser([p[1] for p in todo], [p[2] for p in todo],
                      batch_size=self.fusion_batch_size,
                      out_dir=out,
                      return_images=False)
            del fuser
        if is_distributed():
            barrier()
        if rank == 0:
            for out, item in plan.items():
                os.makedirs(out, exist_ok=True)
                _write_json(osp.join(out, _FUSED_MARK), item['mark'])
        if is_distributed():
            barrier()

    def prepare(self) -> None:
        """:meth:`check`, then write the fused images of checkpoint
        sources and check them like external ones."""
        self.check()
        for source in self.sources:
            if source.modality == 'fused' and source.fused_dir is None:
                self._fuse_with_model(source)
                for leaf in self._leaves():
                    self._build(
                        leaf,
                        fused=self._fused_prefix[(source.name,
                                                  _vis_dir(leaf))])

    # -- one source --------------------------------------------------------
    @property
    def multi_seed(self) -> bool:
        return len(self.seeds) > 1

    def run_dir(self, source: InputSource, seed: Optional[int] = None) -> str:
        """Work dir of one task run: ``<source>/`` with a single seed,
        ``<source>/seed_<seed>/`` with several."""
        folder = osp.join(self.work_dir, source.slug)
        if self.multi_seed:
            seed = self.seeds[0] if seed is None else seed
            folder = osp.join(folder, f'seed_{seed}')
        return folder

    def variant_config(self, source: InputSource,
                       seed: Optional[int] = None) -> Config:
        """The task config for one source and seed (default: the first):
        its modality in every ``LoadModalityImage``, its fused folder in
        every dataset, its own work dir and experiment name, the seed common
        to all sources."""
        seed = self.seeds[0] if seed is None else seed
        cfg = copy.deepcopy(self.cfg)
        cfg.pop('task_eval', None)
        for key in self.loaders:
            for leaf in _leaf_datasets(cfg[key]['dataset']):
                _modality_transforms(leaf)[0]['modality'] = source.modality
                if source.modality == 'fused':
                    leaf['data_prefix']['fused'] = self._fused_prefix[(
                        source.name, _vis_dir(leaf))]
                else:
                    leaf['data_prefix'].pop('fused', None)
        cfg.work_dir = self.run_dir(source, seed)
        cfg.launcher = self.launcher
        if seed is not None:
            cfg.randomness = dict(cfg.get('randomness') or {}, seed=seed)
        # runs follow one another in one process
        set_unique_run_name(
            cfg, source.slug +
            (f'_seed{seed}' if self.multi_seed else ''))
        return cfg

    def _result_file(self, source: InputSource,
                     seed: Optional[int] = None) -> str:
        return osp.join(self.run_dir(source, seed), RESULT_FILE)

    def load_result(self, source: InputSource, identity: str,
                    seed: Optional[int] = None
                    ) -> Optional[Dict[str, float]]:
        """The saved metrics of a finished run, if made by this very
        run identity (see :func:`_config_hash`)."""
        path = self._result_file(source, seed)
        if self.rerun or not osp.isfile(path):
            return None
        with open(path) as f:
            saved = json.load(f)
        if saved.get('config_hash') != identity:
            self._log(f'{path} was made by another configuration or other '
                      f'images: training {source.name!r} again')
            return None
        return {
            k: float('nan') if v is None else v
            for k, v in saved['metrics'].items()
        }

    def _decide(self, source: InputSource, identity: str,
                seed: Optional[int] = None) -> tuple:
        """``('done', metrics)``, ``('resume', None)`` (an interrupted run of
        this identity) or ``('fresh', None)``; for a fresh run an existing
        work dir of the source is moved aside (nothing is deleted) and the
        identity recorded, so that only a run of the same identity is ever
        resumed."""
        metrics = self.load_result(source, identity, seed)
        if metrics is not None:
            return 'done', metrics
        work_dir = self.run_dir(source, seed)
        id_file = osp.join(work_dir, _IDENTITY_FILE)
        if not self.rerun and osp.isfile(
                osp.join(work_dir, 'last_checkpoint')) and osp.isfile(id_file):
            with open(id_file) as f:
                if json.load(f).get('config_hash') == identity:
                    return 'resume', None
        if osp.isdir(work_dir) and os.listdir(work_dir):
            aside = f'{work_dir}.replaced-{time.strftime("%Y%m%d_%H%M%S")}'
            os.replace(work_dir, aside)
            self._log(f'{work_dir} held a run of another configuration: '
                      f'moved to {aside}')
        os.makedirs(work_dir, exist_ok=True)
        _write_json(id_file, dict(source=source.name, config_hash=identity))
        return 'fresh', None

    def run_source(self, source: InputSource,
                   seed: Optional[int] = None) -> Dict[str, float]:
        """Train the task model on one source's images with one seed
        (default: the first) and test it."""
        from mmengine.runner import Runner

        seed = self.seeds[0] if seed is None else seed
        cfg = self.variant_config(source, seed)
        identity = _config_hash(cfg)  # before training: what it read
        decision = self._decide(source, identity, seed) \
            if get_rank() == 0 else None
        if is_distributed():  # rank 0 decides for all (one view of disk)
            box = [decision]
            broadcast_object_list(box)
            decision = box[0]
        state, metrics = decision
        what = repr(source.name) + \
            (f' (seed {seed})' if self.multi_seed else '')
        if state == 'done':
            self._log(f'{what} already done '
                      f'({self._result_file(source, seed)})')
            return metrics
        self._log(f'training the task model on {what}'
                  + (' (resumed)' if state == 'resume' else ''))
        cfg.resume = state == 'resume'
        if cfg.resume:
            cfg.load_from = None  # the latest checkpoint of the work dir
        runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else \
            _build_runner(cfg)
        try:
            runner.train()
            if self._eval_keys()[0] == 'test_dataloader':
                metrics = runner.test()
            else:
                metrics = runner.val()
        finally:
            _close_file_handlers(runner.logger)
        metrics = {k: _plain(v) for k, v in metrics.items()}
        if get_rank() == 0:
            _write_json(
                self._result_file(source, seed),
                dict(
                    source=source.name,
                    input=source.describe(),
                    seed=seed,
                    config_hash=identity,
                    metrics=_json_metrics(metrics)))
        del runner
        _free_accelerator()
        return metrics

    def run(self, prepared: bool = False) -> TaskEvalResult:
        """:meth:`prepare` (unless already ``prepared``), then
        :meth:`run_source` for every source and seed (seed-major: all
        sources of the first seed come first, so an interrupted run has a
        comparable table early)."""
        if not prepared:
            self.prepare()
        result = TaskEvalResult(
            task_config=self.cfg_path,
            sources=self.sources,
            seed=self.seed,
            seeds=list(self.seeds),
            num_pairs=dict(self.num_pairs))
        runs: Dict[str, Dict[Optional[int], Dict[str, float]]] = {
            s.name: {}
            for s in self.sources
        }
        for seed in self.seeds:
            for source in self.sources:
                runs[source.name][seed] = self.run_source(source, seed)
        for source in self.sources:
            result.add(source.name, runs[source.name])
        return result


def _vis_dir(leaf: ConfigDict) -> str:
    """The absolute VIS folder of a dataset (data root joined)."""
    prefix = leaf['data_prefix']['vis']
    if not osp.isabs(prefix):
        prefix = osp.join(leaf.get('data_root') or '', prefix)
    return osp.normpath(osp.abspath(prefix))


def _relative_vis_dirs(leaves) -> Dict[str, str]:
    """Each VIS folder below the common parent of all of them
    (``.../MSRS/train/vi`` -> ``train/vi``)."""
    dirs = sorted({_vis_dir(leaf) for leaf in leaves})
    base = osp.commonpath([osp.dirname(d) for d in dirs])
    return {d: osp.relpath(d, base) for d in dirs}


def _write_json(path: str, obj) -> None:
    """Write atomically (a reader never sees half a file)."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    tmp = f'{path}.tmp{os.getpid()}'
    with open(tmp, 'w') as f:
        json.dump(obj, f, indent=1)
    os.replace(tmp, path)


def _json_metrics(metrics: dict) -> dict:
    """NaN (a class absent from the test split) as ``null``: strict JSON."""
    return {
        k: None if isinstance(v, float) and math.isnan(v) else v
        for k, v in metrics.items()
    }


def _close_file_handlers(logger) -> None:
    """A finished run's log file is closed (mmengine keeps its logger
    instance, and so the open file, for the life of the process)."""
    import logging
    for handler in list(getattr(logger, 'handlers', [])):
        if isinstance(handler, logging.FileHandler):
            handler.close()
            logger.removeHandler(handler)


def _build_runner(cfg: Config):
    from mmengine.registry import RUNNERS
    return RUNNERS.build(cfg)


def _plain(value):
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


def _free_accelerator() -> None:
    import gc

    import torch
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


# ----------------------------------------------------------------------
# the report
# ----------------------------------------------------------------------
_HEADLINE = re.compile(r'(^|/)(mIoU|mAP|bbox_mAP|bbox_mAP_50|AP50)$')


def default_plot_metrics(metrics: Sequence[str]) -> List[str]:
    """The headline metrics of a task (mIoU; mAP / bbox_mAP / mAP@0.5),
    else the first metric."""
    head = [m for m in metrics if _HEADLINE.search(m)]
    return head or list(metrics[:1])


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _fmt(value) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if math.isnan(value):
            return 'nan'
        return f'{value:.2f}' if abs(value) >= 1 or value == 0 else \
            f'{value:.4g}'
    return str(value)


def _markdown(result: TaskEvalResult, metrics: Sequence[str]) -> str:
    """Table of the metrics, best (mean) value in bold; ``mean ± std`` with
    several seeds."""
    best = {}
    for k in metrics:
        col = [r[k] for r in result.rows.values() if _finite(r.get(k))]
        if col:
            best[k] = max(col)
    lines = [
        '| input | ' + ' | '.join(metrics) + ' |',
        '|---|' + '---|' * len(metrics)
    ]
    for source in result.sources:
        row = result.rows.get(source.name, {})
        cells = []
        for k in metrics:
            text = _fmt(row.get(k, float('nan')))
            std = result.std.get(source.name, {}).get(k)
            if result.multi_seed and _finite(std):
                text += f' ± {_fmt(std)}'
            if len(result.rows) > 1 and k in best and row.get(k) == best[k]:
                text = f'**{text}**'
            cells.append(text)
        lines.append(f'| {source.name} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def write_task_report(result: TaskEvalResult,
                      out_dir: str,
                      plot_metrics: Optional[Sequence[str]] = None,
                      plot: bool = True,
                      plot_format: str = 'png') -> str:
    """Write ``task_eval.md``, ``task_eval.csv``, ``task_eval.json`` and
    (with ``plot``) ``task_eval.<plot_format>`` (grouped bars of
    ``plot_metrics``, default :func:`default_plot_metrics`) plus, when
    per-class values were reported (``IoU.<class>`` ...),
    ``task_eval_per_class.<plot_format>``. Returns the markdown report."""
    os.makedirs(out_dir, exist_ok=True)
    metrics = result.metrics
    summary = [m for m in metrics if '.' not in m.split('/')[-1]]
    per_class = [m for m in metrics if m not in summary]
    with open(osp.join(out_dir, 'task_eval.csv'), 'w', newline='') as f:
        writer = csv.writer(f)
        # with several seeds: the mean, then <metric>_std columns
        stds = [f'{k}_std' for k in metrics] if result.multi_seed else []
        writer.writerow(['input', 'source'] + metrics + stds)
        for s in result.sources:
            row = result.rows.get(s.name, {})
            std = result.std.get(s.name, {})
            writer.writerow([s.name, s.describe()] +
                            [row.get(k, '') for k in metrics] +
                            ([std.get(k, '') for k in metrics]
                             if stds else []))
    with open(osp.join(out_dir, 'task_eval.json'), 'w') as f:
        json.dump(
            dict(
                task_config=result.task_config,
                seed=result.seed,
                seeds=result.seeds,
                num_pairs=result.num_pairs,
                sources=[
                    dict(name=s.name, input=s.describe())
                    for s in result.sources
                ],
                # the mean over the seeds with several
                metrics={
                    name: _json_metrics(row)
                    for name, row in result.rows.items()
                },
                std={
                    name: _json_metrics(row)
                    for name, row in result.std.items()
                } if result.multi_seed else {},
                runs={
                    name: {str(seed): _json_metrics(m)
                           for seed, m in runs.items()}
                    for name, runs in result.runs.items()
                } if result.multi_seed else {}),
            f,
            indent=1)
    if result.multi_seed:
        seeds = ', '.join(str(x) for x in result.seeds)
        how = (f'one task model trained per input and seed (seeds {seeds}; '
               'the same seeds for every input), with the same schedule and '
               'pipeline, tested on the same input of the test split; '
               f'mean ± sample std over the {len(result.seeds)} seeds.')
    else:
        how = ('one task model trained per input from the same '
               f'initialisation seed ({result.seed}), schedule and pipeline, '
               'tested on the same input of the test split.')
    lines = [
        '# Task-driven evaluation', '',
        f'Task config: `{result.task_config}`; {how}', ''
    ]
    if result.num_pairs:
        lines.append('Pairs: ' + ', '.join(
            f'{k} {v}' for k, v in result.num_pairs.items()) + '.')
        lines.append('')
    lines += [f'- **{s.name}**: {s.describe()}' for s in result.sources]
    lines += ['', _markdown(result, summary), '']
    if per_class:
        # the per-class IoU is the table of the papers; CSV/JSON hold all
        iou = [m for m in per_class if m.split('/')[-1].startswith('IoU.')]
        lines += [
            'Per class' + (' (IoU):' if iou else ':'), '',
            _markdown(result, iou or per_class), ''
        ]
    report = '\n'.join(lines)
    with open(osp.join(out_dir, 'task_eval.md'), 'w') as f:
        f.write(report)
    if plot and result.rows and metrics:
        from mmfusion.visualization import plot_task_metrics
        names = [s.name for s in result.sources if s.name in result.rows]
        shown = list(plot_metrics or default_plot_metrics(summary))
        unknown = [m for m in shown if m not in metrics]
        if unknown:  # after hours of training: warn, plot the rest
            warnings.warn(f'cannot plot {unknown}: the task reported '
                          f'{metrics}')
            shown = [m for m in shown if m in metrics]
        errors = {n: result.std.get(n, {})
                  for n in names} if result.multi_seed else None
        plot_task_metrics({n: result.rows[n]
                           for n in names}, shown,
                          osp.join(out_dir, f'task_eval.{plot_format}'),
                          errors=errors)
        iou = [m for m in per_class if m.split('/')[-1].startswith('IoU.')]
        # classes absent from the test split (NaN for every input) are left
        # out of the plot
        iou = [m for m in iou or per_class if any(
            _finite(result.rows[n].get(m)) for n in names)]
        if iou:
            plot_task_metrics({n: result.rows[n]
                               for n in names}, iou,
                              osp.join(out_dir,
                                       f'task_eval_per_class.{plot_format}'),
                              errors=errors)
    return report
