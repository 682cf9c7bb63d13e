# Copyright (c) mmfusion contributors. All rights reserved.
"""The orchestration: :class:`TaskGainExperiment` runs a preset's stages in
order, each unit of work reused when its result exists and was made by the
same configuration, resumed when it was interrupted."""
import copy
import json
import os
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine.config import Config
from mmengine.logging import MMLogger, print_log

from ..task_driven import (InputSource, TaskDrivenEvaluation, TaskEvalResult,
                           write_task_report)
from ..task_driven.identity import config_hash, write_json
from .data import SPLITS, fuse_with_rule, prepare_dataset
from .preset import FusionRun, fusion_runs, load_cfg, load_preset, repo_path
from .progress import LOCK_DIR, TIMINGS_FILE, Progress
from .state import restore_state, save_state
from .training import train_fusion, trained_checkpoint

__all__ = ['STAGES', 'TaskGainExperiment', 'parse_stages']

STAGES = ('data', 'rules', 'released', 'train', 'task_eval', 'report')
_ALIASES = {'eval': 'task_eval'}
#: a finished data / rule / released-weights stage: what made it
_DONE = 'task_gain_done.json'


def _read_json(path: str):
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def parse_stages(
        stages: Optional[Sequence[str]]
) -> Tuple[List[str], Dict[str, List[str]]]:
    """``['train:TDFusion', 'eval', ...]`` -> ``(stages, {stage: methods})``:
    a stage given as ``STAGE:METHOD`` runs for those methods (and their
    twins) only; ``eval`` is ``task_eval``. Default: every stage, every
    method."""
    if not stages:
        return list(STAGES), {}
    chosen, methods = [], {}
    for token in stages:
        stage, _, method = token.partition(':')
        stage = _ALIASES.get(stage, stage)
        if stage not in STAGES:
            raise ValueError(f'unknown stage {token!r}; stages: '
                             f'{", ".join(STAGES)} (eval = task_eval), each '
                             'optionally as STAGE:METHOD')
        if stage not in chosen:
            chosen.append(stage)
        if method:
            if stage not in ('train', 'task_eval'):
                raise ValueError(f'{token!r}: only train and task_eval run '
                                 'per method')
            methods.setdefault(stage, []).append(method)
    return [s for s in STAGES if s in chosen], methods


class TaskGainExperiment:
    """Run a task-gain preset (see :mod:`mmfusion.apis.task_gain` and
    ``configs/task_gain/task_gain_msrs_mini_cpu.py``).

    Args:
        cfg: the preset (path or ``Config``).
        work_dir: overrides the preset's ``work_dir``.
        quick: apply the preset's ``quick`` overrides (the whole pipeline
            in minutes on the bundled demo pairs; numbers mean nothing).
        seeds: overrides the preset's ``seeds`` (of the protocol).
        fusion_seeds: overrides the preset's ``fusion_seeds``.
        device: device of fusion inference (default: the best available).
        stages: run only these stages (see :func:`parse_stages`; their
            inputs must exist).
        state_dir: keep the finished units there too, small enough to
            commit, and take back those the work dir lacks when the
            experiment starts (:mod:`.state`: an experiment longer than one
            machine's lifetime goes on on the next).
    """

    def __init__(self,
                 cfg,
                 work_dir: Optional[str] = None,
                 quick: bool = False,
                 seeds: Optional[Sequence[int]] = None,
                 device: Optional[str] = None,
                 stages: Optional[Sequence[str]] = None,
                 fusion_seeds: Optional[Sequence[int]] = None,
                 state_dir: Optional[str] = None):
        self.cfg_path = cfg if isinstance(cfg, str) else \
            getattr(cfg, 'filename', None) or '<config>'
        if fusion_seeds:
            cfg = Config.fromfile(cfg) if isinstance(cfg, str) else \
                copy.deepcopy(cfg)
            cfg.fusion_seeds = [int(s) for s in fusion_seeds]
            if quick and 'quick' in cfg:
                cfg.quick.pop('fusion_seeds', None)
        self.cfg = load_preset(cfg, quick)
        self.quick = quick
        self.work_dir = osp.abspath(work_dir or self.cfg.work_dir)
        self.seeds = [int(s) for s in (seeds or self.cfg.get('seeds', [0]))]
        self.fusion_seeds = [int(s) for s in self.cfg.get('fusion_seeds', [0])]
        self.device = device
        self.stages, self.only = parse_stages(stages)
        known = {m.name for m in self.cfg.get('methods', [])}
        for stage, names in self.only.items():
            unknown = set(names) - known
            if unknown:
                raise ValueError(f'{stage}: unknown methods '
                                 f'{sorted(unknown)}; the preset has '
                                 f'{sorted(known)}')
        os.makedirs(self.work_dir, exist_ok=True)
        self.state_dir = state_dir and osp.abspath(state_dir)
        if self.state_dir:
            restored = restore_state(self.state_dir, self.work_dir)
        self.logger = MMLogger.get_instance(
            f'task_gain_{id(self)}_{time.time_ns()}',
            log_file=osp.join(self.work_dir, 'task_gain.log'),
            file_mode='a')
        self.progress = Progress(
            osp.join(self.work_dir, TIMINGS_FILE),
            self._log,
            self._save_state if self.state_dir else None,
            lock_dir=osp.join(self.work_dir, LOCK_DIR))
        if self.state_dir:
            self._log(f'{len(restored)} file(s) of finished units taken '
                      f'from {self.state_dir}')
        self.data_root: Optional[str] = None
        self.runs: List[FusionRun] = []
        self.trained: Dict[str, Tuple[str, str]] = {}  # row: (cfg, ckpt)
        self.rule_dirs: Dict[str, str] = {}
        self.released: Dict[str, tuple] = {}
        self.missing: Dict[str, str] = {}  # inputs left out (--quick)
        self.evaluation: Optional[TaskDrivenEvaluation] = None
        self.result: Optional[TaskEvalResult] = None

    def _log(self, msg: str) -> None:
        print_log(f'task-gain: {msg}', logger=self.logger)

    def _save_state(self) -> None:
        try:
            saved = save_state(self.work_dir, self.state_dir)
        except Exception as e:  # the experiment goes on; its work dir has all
            self._log(f'state: NOT saved to {self.state_dir}: '
                      f'{type(e).__name__}: {e}')
            return
        if saved:
            self._log(f'state: {len(saved)} file(s) saved to '
                      f'{self.state_dir}')

    # -- data, rules, released weights -----------------------------------
    def stage_data(self) -> Tuple[str, bool]:
        data = self.cfg.data
        source = repo_path(data.source)
        size = data.get('size')
        if size is None:
            self.data_root = source
            return source, False
        name = data.get('name') or (
            f'{osp.basename(osp.normpath(source))}_{size[0]}x{size[1]}')
        dest = osp.join(self.work_dir, 'data', name)
        mark = dict(source=source, size=list(size))
        worked = _read_json(osp.join(dest, _DONE)) != mark
        if worked:
            self._log(f'preparing {source} at {size[0]}x{size[1]} in {dest}')
            prepare_dataset(source, dest, size)
            write_json(osp.join(dest, _DONE), mark)
        self.data_root = dest
        return dest, worked

    def stage_rules(self) -> Tuple[None, bool]:
        worked = False
        for rule in self.cfg.get('rules', []):
            out = osp.join(self.work_dir, 'fused',
                           InputSource(rule.name, 'vis').slug)
            mark = dict(rule=rule.rule, data=self.data_root)
            if _read_json(osp.join(out, _DONE)) != mark:
                worked = True
                self._log(f'fusing with the {rule.rule} rule into {out}')
                for split in SPLITS:
                    fuse_with_rule(
                        osp.join(self.data_root, split, 'ir'),
                        osp.join(self.data_root, split, 'vi'),
                        osp.join(out, split), rule.rule)
                write_json(osp.join(out, _DONE), mark)
            self.rule_dirs[rule.name] = out
        return None, worked

    def stage_released(self) -> Tuple[None, bool]:
        from mmfusion.models.utils import ckpt_convert
        worked = False
        for item in self.cfg.get('released', []):
            src = repo_path(item.checkpoint)
            if not osp.isfile(src):
                if self.quick:  # a smoke test runs on a bare clone too
                    self.missing[item.name] = src
                    self._log(f'--quick: released weights of {item.name!r} '
                              f'({src}) not found, input left out')
                    continue
                raise FileNotFoundError(
                    f'released weights of {item.name!r}: {src} does not '
                    'exist')
            folder = osp.join(self.work_dir, 'released',
                              InputSource(item.name, 'vis').slug)
            os.makedirs(folder, exist_ok=True)
            cfg = load_cfg(item.config, self.data_root,
                           item.get('cfg_options'))
            cfg_file = osp.join(folder, 'config.py')
            cfg.dump(cfg_file)
            dst = osp.join(folder, 'weights.pth')
            st = os.stat(src)
            mark = dict(
                source=src, size=st.st_size, converter=item.get('converter'))
            if _read_json(osp.join(folder, _DONE)) != mark:
                worked = True
                converter = item.get('converter')
                if converter:
                    convert = getattr(ckpt_convert, f'{converter}_convert')
                    state = convert(
                        ckpt_convert.load_source_checkpoint(src), source=src)
                    ckpt_convert.save_mmfusion_checkpoint(
                        ckpt_convert.convert_to_model(state, 'fusion_net.'),
                        dst,
                        meta=dict(converted_from=src))
                else:
                    with open(src, 'rb') as fi, open(dst, 'wb') as fo:
                        fo.write(fi.read())
                write_json(osp.join(folder, _DONE), mark)
            self.released[item.name] = (cfg_file, dst)
        return None, worked

    # -- fusion trainings -------------------------------------------------
    def _run_cfg(self, run: FusionRun) -> Config:
        cfg = load_cfg(run.config, self.data_root, run.options)
        cfg.randomness = dict(cfg.get('randomness') or {}, seed=run.seed)
        if run.warmup is not None:
            warm = self.trained.get(run.warmup.name)
            if warm is None:
                raise FileNotFoundError(
                    f'{run.label}: its warm-up ({run.warmup.work_dir}) is '
                    'not trained yet: run the train stage')
            # the fusion net starts from the warm-up's (published: from a
            # pre-trained fusion model); the twin from the same one
            cfg.model.fusion_net.init_cfg = dict(
                type='Pretrained', checkpoint=warm[1], prefix='fusion_net.')
        return cfg

    def _train_one(self, run: FusionRun) -> Tuple[str, bool]:
        warm = run.warmup
        if warm is not None and warm.name not in self.trained:
            # left for later because another process holds it: wait for
            # it (a warm-up never waits for its method: no deadlock)
            self.progress.run(warm.key, warm.kind, f'train {warm.label}',
                              self._train_one, warm)
        ckpt, worked = train_fusion(
            self._run_cfg(run), run.work_dir, run.name, log=self._log)
        self.trained[run.name] = (osp.join(run.work_dir, 'config.py'), ckpt)
        return ckpt, worked

    def _collect_one(self, run: FusionRun) -> Tuple[str, bool]:
        ckpt = trained_checkpoint(
            self._run_cfg(run), run.work_dir, run.name, log=self._log)
        if ckpt is None:
            raise FileNotFoundError(
                f'{run.label} is not trained yet ({run.work_dir}): run the '
                'train stage')
        self.trained[run.name] = (osp.join(run.work_dir, 'config.py'), ckpt)
        return ckpt, False

    def stage_train(self, train: bool = True) -> None:
        """Train (``train``) or collect the trained nets of the selected
        methods and their twins, under every fusion seed."""
        only = self.only.get('train' if train else 'task_eval')
        self.runs = fusion_runs(self.cfg, self.work_dir, self.quick,
                                self.fusion_seeds, only)
        # (each run records itself in self.trained: a warm-up before its
        # method and twin, which start from it)
        if train:
            self.progress.run_all([(r.key, r.kind, f'train {r.label}',
                                    self._train_one, (r, ))
                                   for r in self.runs])
        else:
            for run in self.runs:
                self._collect_one(run)

    def run_of(self, name: str) -> FusionRun:
        return next(r for r in self.runs if r.name == name)

    # -- the task-driven protocol ------------------------------------------
    def sources(self) -> List[InputSource]:
        sources = [
            InputSource.baseline(m)
            for m in self.cfg.get('baselines', ['vis', 'ir'])
        ]
        sources += [
            InputSource(n, 'fused', fused_dir=d)
            for n, d in self.rule_dirs.items()
        ]
        sources += [
            InputSource(n, 'fused', model_config=c, checkpoint=k)
            for n, (c, k) in self.released.items()
        ]
        sources += [
            InputSource(
                r.name,
                'fused',
                model_config=self.trained[r.name][0],
                checkpoint=self.trained[r.name][1]) for r in self.runs
            if r.role != 'warmup'
        ]
        return sources

    def task_config(self) -> Config:
        return load_cfg(self.cfg.task_config, self.data_root,
                        self.cfg.get('task_cfg_options'))

    def _task_run(self, source: InputSource,
                  seed: int) -> Tuple[Dict[str, float], bool]:
        ev = self.evaluation
        done = ev.load_result(source,
                              config_hash(ev.variant_config(source, seed)),
                              seed)
        return ev.run_source(source, seed), done is None

    def stage_task_eval(self) -> TaskEvalResult:
        """The protocol on every input and seed, each task run timed (seed-
        major, as :meth:`TaskDrivenEvaluation.run`)."""
        self.evaluation = ev = TaskDrivenEvaluation(
            self.task_config(),
            self.sources(),
            osp.join(self.work_dir, 'task_eval'),
            seeds=self.seeds,
            device=self.device,
            fusion_batch_size=self.cfg.get('fusion_batch_size', 1))
        ev.cfg_path = self.cfg.task_config
        units = [(f'task/{s.slug}/seed_{seed}', 'task') for seed in ev.seeds
                 for s in ev.sources]
        self.progress.add([('task_eval/prepare', 'task_eval/prepare')] + units)
        # "worked" only when it fused something: a process arriving after
        # another fused the pairs keeps that process's time
        self.progress.run('task_eval/prepare', 'task_eval/prepare',
                          'task_eval: checks and fusion of the pairs', lambda:
                          (None, ev.prepare() > 0))
        result = TaskEvalResult(
            task_config=ev.cfg_path,
            sources=ev.sources,
            seed=ev.seed,
            seeds=list(ev.seeds),
            num_pairs=dict(ev.num_pairs))
        runs: Dict[str, Dict[int, Dict[str, float]]] = {
            s.name: {}
            for s in ev.sources
        }
        order = [(source, seed) for seed in ev.seeds for source in ev.sources]
        metrics = self.progress.run_all([
            (f'task/{source.slug}/seed_{seed}', 'task',
             f'task_eval {source.name}, seed {seed}', self._task_run, (source,
                                                                       seed))
            for source, seed in order
        ])
        for (source, seed), m in zip(order, metrics):
            runs[source.name][seed] = m
        for source in ev.sources:
            result.add(source.name, runs[source.name])
        self.result = result
        with self.progress.lock('task_eval/report'):  # (one writer)
            write_task_report(result, osp.join(self.work_dir, 'task_eval'))
        return result

    # -- what the report reads ---------------------------------------------
    def twin_pairs(self) -> Dict[str, dict]:
        """``{method: dict(twin, seeds, method_rows, twin_rows)}`` of the
        methods with a twin (rows in fusion-seed order)."""
        pairs = {}
        for m in self.cfg.get('methods', []):
            if not m.get('twin'):
                continue
            mine = [r for r in self.runs if r.method == m.name]
            method = {r.seed: r.name for r in mine if r.role == 'method'}
            twin = {r.seed: r.name for r in mine if r.role == 'twin'}
            seeds = [s for s in self.fusion_seeds if s in method and s in twin]
            if seeds:
                pairs[m.name] = dict(
                    twin=m.twin.name,
                    seeds=seeds,
                    method_rows=[method[s] for s in seeds],
                    twin_rows=[twin[s] for s in seeds])
        return pairs

    def first_seed_inputs(self) -> List[str]:
        """The inputs of the picture grid: all but the nets of the other
        fusion seeds."""
        other = {r.name for r in self.runs if r.seed != self.fusion_seeds[0]}
        return [s.name for s in self.sources() if s.name not in other]

    def tdfusion_nets(self) -> Dict[str, Tuple[str, str]]:
        """TDFusion methods (not twins) of the first fusion seed: row ->
        (config, checkpoint)."""
        out = {}
        for r in self.runs:
            if r.role != 'method' or r.seed != self.fusion_seeds[0]:
                continue
            cfg_file, ckpt = self.trained[r.name]
            if Config.fromfile(cfg_file).model.type == 'TDFusion':
                out[r.name] = (cfg_file, ckpt)
        return out

    def test_folders(self) -> Dict[str, str]:
        """Input name -> folder of its test-split images (what the task
        model was tested on)."""
        test_vis = osp.join(self.data_root, 'test', 'vi')
        folders = {}
        for source in self.evaluation.sources:
            if source.modality == 'vis':
                folders[source.name] = test_vis
            elif source.modality == 'ir':
                folders[source.name] = osp.join(self.data_root, 'test', 'ir')
            elif source.fused_dir is not None:
                folders[source.name] = osp.join(source.fused_dir, 'test')
            else:
                folders[source.name] = self.evaluation.fused_folder(
                    source, test_vis)
        return folders

    def task_run_times(self) -> Dict[str, List[float]]:
        """Wall time (s) of every task training + test, per input: as
        timed by the progress (``timings.json``), else from the run's
        identity record (written when it starts) to its metrics (written
        when it ends); resumed runs count from their start."""
        out: Dict[str, List[float]] = {}
        timings = self.progress.timings
        for source in self.evaluation.sources:
            for seed in self.evaluation.seeds:
                key = f'task/{source.slug}/seed_{seed}'
                if key in timings:
                    out.setdefault(source.name, []).append(timings[key])
                    continue
                folder = self.evaluation.run_dir(source, seed)
                start = osp.join(folder, 'run_identity.json')
                end = osp.join(folder, 'task_metrics.json')
                if osp.isfile(start) and osp.isfile(end):
                    out.setdefault(source.name, []).append(
                        round(
                            os.stat(end).st_mtime - os.stat(start).st_mtime,
                            1))
        return out

    # -- all ---------------------------------------------------------------
    def _task_units(self, names: Sequence[str]) -> List[Tuple[str, str]]:
        return [(f'task/{InputSource(n, "vis").slug}/seed_{seed}', 'task')
                for seed in self.seeds for n in names]

    def plan(self) -> None:
        """Plan every unit the selected stages will run (for the progress
        line's count and estimate)."""
        needs_inputs = 'task_eval' in self.stages or 'report' in self.stages
        units = [('data', 'data')]
        if 'rules' in self.stages or needs_inputs:
            units.append(('rules', 'rules'))
        if 'released' in self.stages or needs_inputs:
            units.append(('released', 'released'))
        if 'train' in self.stages:
            units += [
                (r.key, r.kind)
                for r in fusion_runs(self.cfg, self.work_dir, self.quick,
                                     self.fusion_seeds, self.only.get('train'))
            ]
        if needs_inputs:
            runs = fusion_runs(self.cfg, self.work_dir, self.quick,
                               self.fusion_seeds, self.only.get('task_eval'))
            names = [
                InputSource.baseline(m).name
                for m in self.cfg.get('baselines', ['vis', 'ir'])
            ] + [r.name for r in self.cfg.get('rules', [])] + [
                r.name for r in self.cfg.get('released', [])
            ] + [r.name for r in runs if r.role != 'warmup']
            units.append(('task_eval/prepare', 'task_eval/prepare'))
            units += self._task_units(names)
        if 'report' in self.stages:
            units += [(k, k)
                      for k in ('report/fusion metrics', 'report/picture grid',
                                'report/loss generator')]
        self.progress.add(units)

    def run(self) -> Optional[str]:
        """Run the stages; returns the markdown report (``report`` stage)."""
        from .report import write_report
        start = time.time()
        needs_inputs = 'task_eval' in self.stages or 'report' in self.stages
        self.plan()
        self.progress.run('data', 'data', 'data', self.stage_data)
        if 'rules' in self.stages or needs_inputs:
            self.progress.run('rules', 'rules', 'rules', self.stage_rules)
        if 'released' in self.stages or needs_inputs:
            self.progress.run('released', 'released', 'released weights',
                              self.stage_released)
            self.progress.drop([k for k, _ in self._task_units(self.missing)])
        if 'train' in self.stages:
            self.stage_train()
            if 'task_eval' in self.only or (needs_inputs
                                            and 'train' in self.only):
                self.stage_train(train=False)
        elif needs_inputs:
            self.stage_train(train=False)
        md = None
        if needs_inputs:
            self.stage_task_eval()
        if 'report' in self.stages:
            with self.progress.lock('report'):  # (one writer at a time)
                md = write_report(self)
        self._log(f'finished in {time.time() - start:.0f} s; report: '
                  f'{osp.join(self.work_dir, "task_gain.md")}')
        return md
