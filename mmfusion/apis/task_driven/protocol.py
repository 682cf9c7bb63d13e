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
import hashlib
import json
import os
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine.config import Config, ConfigDict
from mmengine.dist import (barrier, broadcast_object_list, get_dist_info,
                           get_rank, is_distributed)
from mmengine.logging import MMLogger, print_log
from mmengine.registry import DefaultScope

from .configs import (modality_loaders, relative_vis_dirs,
                      resolve_fused_folder, source_config, vis_folder,
                      vis_prefix)
from .identity import (FUSED_MARK, RESULT_FILE, claim_run, config_content,
                       config_hash, folder_signature, json_metrics,
                       load_result, plain_number, write_json)
from .report import TaskEvalResult
from .sources import InputSource

__all__ = ['TaskDrivenEvaluation']


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
                self.num_pairs.setdefault(f'{key}:{vis_prefix(leaf)}',
                                          len(dataset))
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
                                                  vis_prefix(leaf))
                    self._build(leaf, fused=folder)
                    self._fused_prefix[(source.name, vis_folder(leaf))] = \
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
        rel = relative_vis_dirs(self._leaves())
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
                config_content(Config.fromfile(
                    source.model_config)).encode()).hexdigest()[:16],
            checkpoint=osp.abspath(source.checkpoint),
            checkpoint_size=ckpt_stat.st_size,
            checkpoint_mtime_ns=ckpt_stat.st_mtime_ns)
        plan: Dict[str, dict] = {}
        for leaf in self._leaves():
            out = self._fused_prefix[(source.name, vis_folder(leaf))]
            pairs = plan.setdefault(out, dict(pairs={}))['pairs']
            for stem, ir, vis in self._dataset(leaf).pair_files():
                if pairs.setdefault(stem, (ir, vis)) != (ir, vis):
                    raise ValueError(
                        f'pair {stem!r} of {vis} and {pairs[stem][1]} '
                        f'would share the fused image {out}/{stem}.png')
        for out, item in plan.items():
            pairs = item['pairs']
            sources = sorted(
                {osp.dirname(p)
                 for v in pairs.values()
                 for p in v})
            item['mark'] = mark = dict(
                base,
                source_images=hashlib.sha1(''.join(
                    folder_signature(d)
                    for d in sources).encode()).hexdigest()[:16])
            done = osp.join(out, FUSED_MARK)
            reuse = False
            if not self.rerun and osp.isfile(done):
                with open(done) as f:
                    reuse = json.load(f) == mark
            item['reuse'] = reuse
            item['todo'] = [
                (stem, ir, vis) for stem, (ir, vis) in sorted(pairs.items())
                if not reuse or not osp.isfile(osp.join(out, f'{stem}.png'))
            ]
        return plan

    def _fuse_with_model(self, source: InputSource) -> int:
        """Write the fused image of every pair the dataloaders read (see
        :meth:`_fusion_plan`), the pairs shared among the ranks. Returns how
        many pairs there were to fuse (all ranks together; 0 when every
        fused image was already there)."""
        self._record_model_folders(source)
        plan = self._fusion_plan(source) if get_rank() == 0 else None
        if is_distributed():  # rank 0 decides, from its view of the disk
            box = [plan]
            broadcast_object_list(box)
            plan = box[0]
        rank, world = get_dist_info()
        if rank == 0:
            for out, item in plan.items():
                done = osp.join(out, FUSED_MARK)
                if item['todo'] and osp.exists(done) and not item['reuse']:
                    os.remove(done)
        if is_distributed():
            barrier()
        mine = [(out, p) for out, item in plan.items()
                for p in item['todo']][rank::world]
        if mine:
            from ..fusion_inferencer import FusionInferencer
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
                write_json(osp.join(out, FUSED_MARK), item['mark'])
        if is_distributed():
            barrier()
        return sum(len(item['todo']) for item in plan.values())

    def prepare(self) -> int:
        """:meth:`check`, then write the fused images of checkpoint
        sources and check them like external ones. Returns the number of
        pairs fused (0: every fused image was there already)."""
        self.check()
        fused = 0
        for source in self.sources:
            if source.modality == 'fused' and source.fused_dir is None:
                fused += self._fuse_with_model(source)
                for leaf in self._leaves():
                    self._build(
                        leaf,
                        fused=self._fused_prefix[(source.name,
                                                  vis_folder(leaf))])
        return fused

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

    def variant_config(self,
                       source: InputSource,
                       seed: Optional[int] = None) -> Config:
        """The task config for one source and seed (default: the first):
        its modality in every ``LoadModalityImage``, its fused folder in
        every dataset, its own work dir and experiment name, the seed common
        to all sources (:func:`~.configs.source_config`)."""
        seed = self.seeds[0] if seed is None else seed
        return source_config(
            self.cfg,
            self.loaders,
            source.modality,
            lambda vis: self._fused_prefix[(source.name, vis)],
            work_dir=self.run_dir(source, seed),
            launcher=self.launcher,
            seed=seed,
            run_name=source.slug + (f'_seed{seed}' if self.multi_seed else ''))

    def _result_file(self,
                     source: InputSource,
                     seed: Optional[int] = None) -> str:
        return osp.join(self.run_dir(source, seed), RESULT_FILE)

    def load_result(self,
                    source: InputSource,
                    identity: str,
                    seed: Optional[int] = None) -> Optional[Dict[str, float]]:
        """The saved metrics of a finished run, if made by this very
        run identity (see :func:`~.identity.config_hash`)."""
        if self.rerun:
            return None
        return load_result(
            self._result_file(source, seed), identity,
            lambda msg: self._log(f'{msg}: training {source.name!r} again'))

    def _decide(self,
                source: InputSource,
                identity: str,
                seed: Optional[int] = None) -> tuple:
        """``('done', metrics)``, ``('resume', None)`` (an interrupted run of
        this identity) or ``('fresh', None)`` (see
        :func:`~.identity.claim_run`)."""
        metrics = self.load_result(source, identity, seed)
        if metrics is not None:
            return 'done', metrics
        return claim_run(
            self.run_dir(source, seed), identity, source.name, self.rerun,
            self._log), None

    def run_source(self,
                   source: InputSource,
                   seed: Optional[int] = None) -> Dict[str, float]:
        """Train the task model on one source's images with one seed
        (default: the first) and test it."""
        from mmfusion.engine.runner import build_runner
        from mmfusion.models.task_adapters.task_fixes import fix_task_config

        seed = self.seeds[0] if seed is None else seed
        cfg = self.variant_config(source, seed)
        identity = config_hash(cfg)  # before training: what it read
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
        self._log(f'training the task model on {what}' +
                  (' (resumed)' if state == 'resume' else ''))
        cfg.resume = state == 'resume'
        if cfg.resume:
            cfg.load_from = None  # the latest checkpoint of the work dir
        # the task adapter's fixes of mmseg/mmdet components (after the
        # run identity: they change no result a finished run recorded)
        fix_task_config(cfg)
        # (FusionRunner unless the task config names its runner: atomic
        # checkpoints, damaged ones named, safe loading, CPU distributed)
        runner = build_runner(cfg)
        try:
            runner.train()
            if self._eval_keys()[0] == 'test_dataloader':
                metrics = runner.test()
            else:
                metrics = runner.val()
        finally:
            _close_file_handlers(runner.logger)
        metrics = {k: plain_number(v) for k, v in metrics.items()}
        if get_rank() == 0:
            write_json(
                self._result_file(source, seed),
                dict(
                    source=source.name,
                    input=source.describe(),
                    seed=seed,
                    config_hash=identity,
                    metrics=json_metrics(metrics)))
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


def _close_file_handlers(logger) -> None:
    """A finished run's log file is closed (mmengine keeps its logger
    instance, and so the open file, for the life of the process)."""
    import logging
    for handler in list(getattr(logger, 'handlers', [])):
        if isinstance(handler, logging.FileHandler):
            handler.close()
            logger.removeHandler(handler)


def _free_accelerator() -> None:
    import gc

    import torch
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
