# Copyright (c) mmfusion contributors. All rights reserved.
"""The task-gain experiment: does task-driven training give fused images on
which a downstream model does better than on VIS alone, IR alone and a fixed
fusion rule?

One experiment config (``configs/task_gain/``) names the data, the fusion
methods to train with mmfusion's own strategies, the external inputs (a
fixed rule, released weights) and the task config of the task-driven
protocol (:class:`~mmfusion.apis.task_driven.TaskDrivenEvaluation`).
:class:`TaskGainExperiment` runs the stages in order, each one skipped when
its output exists and was made by the same configuration:

1. ``data``: the dataset, optionally downscaled (images area-interpolated,
   label masks nearest) into ``WORK_DIR/data/<name>``;
2. ``rules``: the fused images of fixed rules (``'max'``: pixel-wise maximum
   of IR and VIS-Y, recoloured with the VIS chroma), ``WORK_DIR/fused/``;
3. ``released``: released weights converted to mmfusion checkpoints;
4. ``train``: every method trained on the train split with ``tools/train.py``
   (a warm-up run first where the method's published schedule starts from a
   trained fusion net), ``WORK_DIR/methods/<name>/``;
5. ``task_eval``: the task-driven protocol for every input and seed,
   ``WORK_DIR/task_eval/``;
6. ``report``: the 14 fusion metrics of every input on the test split, the
   task table (mean ± std over the seeds), a bar plot with error bars, a
   picture grid (VIS | IR | every fused input | TDFusion's IR-weight map)
   and what the loss generator learned over training:
   ``WORK_DIR/task_gain.{md,csv,json,png}``, ``task_gain_grid.png``.

Nothing is downloaded: task models are built from scratch unless their
config says otherwise.
"""
import copy
import csv
import glob
import hashlib
import json
import math
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np
from mmengine.config import Config, ConfigDict
from mmengine.logging import MMLogger, print_log

from mmfusion.utils.fileio import atomic_path
from .task_driven import (InputSource, TaskDrivenEvaluation, TaskEvalResult,
                          write_task_report)
from .task_driven.identity import write_json
from .task_driven.report import is_finite, task_table

__all__ = [
    'TaskGainExperiment', 'prepare_dataset', 'fuse_with_rule',
    'loss_generator_weights'
]

STAGES = ('data', 'rules', 'released', 'train', 'task_eval', 'report')
_SPLITS = ('train', 'test')
_IMAGE_DIRS = {
    'ir': cv2.INTER_AREA,
    'vi': cv2.INTER_AREA,
    'Segmentation_labels': cv2.INTER_NEAREST
}
_DONE = 'task_gain_done.json'
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _sha(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def _read_json(path: str):
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


# ----------------------------------------------------------------------
# data
# ----------------------------------------------------------------------
def prepare_dataset(source: str,
                    dest: str,
                    size: Optional[Sequence[int]] = None) -> str:
    """Copy an MSRS-layout dataset (``{train,test}/{ir,vi,
    Segmentation_labels,Detection_labels}``) to ``dest``, each image resized
    to ``size = (w, h)`` (IR/VIS: area interpolation; label masks: nearest;
    YOLO box files are normalised and copied as they are). Returns ``dest``.
    Raises ``FileNotFoundError`` naming a missing split folder, and
    ``ValueError`` naming an unreadable image, before anything is written
    to ``dest``."""
    todo = []
    for split in _SPLITS:
        for sub in ('ir', 'vi'):
            folder = osp.join(source, split, sub)
            if not osp.isdir(folder):
                raise FileNotFoundError(
                    f'dataset {source}: folder {folder} does not exist (an '
                    'MSRS layout {train,test}/{ir,vi,Segmentation_labels} is '
                    'expected)')
        for sub in list(_IMAGE_DIRS) + ['Detection_labels']:
            folder = osp.join(source, split, sub)
            if osp.isdir(folder):
                todo += [(split, sub, name)
                         for name in sorted(os.listdir(folder))]
    with atomic_path(dest) as tmp:
        for split, sub, name in todo:
            src = osp.join(source, split, sub, name)
            out = osp.join(tmp, split, sub, name)
            os.makedirs(osp.dirname(out), exist_ok=True)
            if sub not in _IMAGE_DIRS or size is None:
                with open(src, 'rb') as fi, open(out, 'wb') as fo:
                    fo.write(fi.read())
                continue
            img = cv2.imread(src, cv2.IMREAD_UNCHANGED)
            if img is None:
                raise ValueError(f'cannot read image {src}')
            img = cv2.resize(
                img,
                tuple(int(s) for s in size),
                interpolation=_IMAGE_DIRS[sub])
            if not cv2.imwrite(out, img):
                raise OSError(f'cannot write {out}')
        if osp.isdir(dest):
            os.replace(dest,
                       f'{dest}.replaced-{time.strftime("%Y%m%d_%H%M%S")}')
    return dest


def fuse_with_rule(ir_dir: str,
                   vis_dir: str,
                   out_dir: str,
                   rule: str = 'max') -> List[str]:
    """Fuse every IR/VIS pair of two folders with a fixed rule and write
    ``out_dir/<name>.png``: ``'max'`` takes the pixel-wise maximum of the IR
    image and the VIS luminance (Y), ``'mean'`` their average; the result is
    recoloured with the VIS chroma (:mod:`mmfusion.utils.colour`)."""
    import torch

    from mmfusion.datasets.pairing import pair_folders
    from mmfusion.utils.colour import rgb_to_ycbcr, ycbcr_to_rgb
    if rule not in ('max', 'mean'):
        raise ValueError(f"rule must be 'max' or 'mean', got {rule!r}")
    pairs = pair_folders(ir_dir, vis_dir, unmatched='warn')
    names, irs, viss = pairs.names, pairs.ir, pairs.vis
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for name in names:
        ir = cv2.imread(irs[name], cv2.IMREAD_GRAYSCALE)
        vis = cv2.imread(viss[name], cv2.IMREAD_COLOR)
        if ir is None or vis is None:
            raise ValueError(f'cannot read pair {name!r} ({irs[name]}, '
                             f'{viss[name]})')
        rgb = torch.from_numpy(vis[..., ::-1].copy()).permute(
            2, 0, 1)[None].float() / 255
        y, cbcr = rgb_to_ycbcr(rgb)
        ir_t = torch.from_numpy(ir)[None, None].float() / 255
        fused = torch.maximum(ir_t, y) if rule == 'max' else (ir_t + y) / 2
        out = ycbcr_to_rgb(fused, cbcr)[0].permute(1, 2, 0).numpy()
        path = osp.join(out_dir, f'{name}.png')
        cv2.imwrite(path, np.round(out * 255).astype(np.uint8)[..., ::-1])
        written.append(path)
    return written


def loss_generator_weights(model, ir: np.ndarray,
                           vis_bgr: np.ndarray) -> np.ndarray:
    """TDFusion's loss-generator weight of the IR input per pixel (``(H,
    W)`` in [0, 1]) for one pair (uint8 gray IR, uint8 BGR VIS)."""
    import torch

    from mmfusion.utils.colour import rgb_to_ycbcr
    rgb = torch.from_numpy(vis_bgr[..., ::-1].copy()).permute(
        2, 0, 1)[None].float() / 255
    y, _ = rgb_to_ycbcr(rgb)
    ir_t = torch.from_numpy(ir)[None, None].float() / 255
    with torch.no_grad():
        w = model.loss_generator(ir_t, y)
    return w[0, 0].numpy()


# ----------------------------------------------------------------------
# config helpers
# ----------------------------------------------------------------------
def _set_data_root(cfg, root: str) -> int:
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


def _load_cfg(path: str,
              data_root: Optional[str],
              options: Optional[dict] = None) -> Config:
    cfg = Config.fromfile(path)
    if options:
        cfg.merge_from_dict(copy.deepcopy(dict(options)))
    if data_root is not None:
        _set_data_root(cfg, data_root)
    return cfg


def _repo_path(path: str) -> str:
    """A path of the config relative to the working directory, else to the
    repository (configs and ``../shared`` data work from either)."""
    if osp.isabs(path) or osp.exists(path):
        return osp.abspath(path)
    return osp.abspath(osp.join(REPO_ROOT, path))


# ----------------------------------------------------------------------
# the experiment
# ----------------------------------------------------------------------
class TaskGainExperiment:
    """Run a task-gain experiment config (see the module docs and
    ``configs/task_gain/task_gain_msrs_mini_cpu.py``).

    Args:
        cfg: experiment config (path or ``Config``).
        work_dir: overrides the config's ``work_dir``.
        quick: apply the config's ``quick`` overrides (the whole pipeline
            in minutes on the bundled demo pairs; numbers mean nothing).
        seeds: overrides the config's ``seeds``.
        device: device of fusion inference (default: the best available).
        stages: run only these stages (their inputs must exist).
    """

    def __init__(self,
                 cfg,
                 work_dir: Optional[str] = None,
                 quick: bool = False,
                 seeds: Optional[Sequence[int]] = None,
                 device: Optional[str] = None,
                 stages: Optional[Sequence[str]] = None):
        self.cfg = Config.fromfile(cfg) if isinstance(cfg, str) else \
            copy.deepcopy(cfg)
        self.cfg_path = cfg if isinstance(cfg, str) else \
            getattr(cfg, 'filename', None) or '<config>'
        if quick:
            if 'quick' not in self.cfg:
                raise KeyError(f'{self.cfg_path} has no `quick` settings')
            self.cfg.merge_from_dict(copy.deepcopy(dict(self.cfg.quick)))
        self.quick = quick
        self.work_dir = osp.abspath(work_dir or self.cfg.work_dir)
        self.seeds = [int(s) for s in (seeds or self.cfg.get('seeds', [0]))]
        self.device = device
        unknown = set(stages or ()) - set(STAGES)
        if unknown:
            raise ValueError(f'unknown stages {sorted(unknown)}; stages: '
                             f'{STAGES}')
        self.stages = list(stages or STAGES)
        names = [m.name for m in self.cfg.get('methods', [])] + \
            [r.name for r in self.cfg.get('rules', [])] + \
            [r.name for r in self.cfg.get('released', [])]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f'input names must be distinct: {sorted(dup)}')
        os.makedirs(self.work_dir, exist_ok=True)
        self.logger = MMLogger.get_instance(
            f'task_gain_{id(self)}_{time.time_ns()}',
            log_file=osp.join(self.work_dir, 'task_gain.log'),
            file_mode='a')
        self.timings: Dict[str, float] = dict((_read_json(self._timings_file())
                                               or {}))
        self.data_root: Optional[str] = None
        self.checkpoints: Dict[str, str] = {}
        self.method_configs: Dict[str, str] = {}
        self.rule_dirs: Dict[str, str] = {}
        self.released: Dict[str, tuple] = {}
        self._worked = False
        self.missing: Dict[str, str] = {}  # inputs left out (--quick)
        self.evaluation: Optional[TaskDrivenEvaluation] = None
        self.result: Optional[TaskEvalResult] = None

    # -- utilities ---------------------------------------------------------
    def _log(self, msg: str) -> None:
        print_log(f'task-gain: {msg}', logger=self.logger)

    def _timings_file(self) -> str:
        return osp.join(self.work_dir, 'timings.json')

    def _timed(self, key: str, fn, *args, **kwargs):
        """Run a stage and record its wall time, unless it found its work
        done (then the time it took when it ran is kept)."""
        self._worked = False
        start = time.time()
        out = fn(*args, **kwargs)
        spent = time.time() - start
        if self._worked or key not in self.timings:
            # (re-read: another process may have recorded other stages)
            self.timings.update(_read_json(self._timings_file()) or {})
            self.timings[key] = round(spent, 1)
            write_json(self._timings_file(), self.timings)
        return out

    # -- stage 1: data -----------------------------------------------------
    def stage_data(self) -> str:
        data = self.cfg.data
        source = _repo_path(data.source)
        size = data.get('size')
        if size is None:
            self.data_root = source
            return source
        name = data.get('name') or (
            f'{osp.basename(osp.normpath(source))}_{size[0]}x{size[1]}')
        dest = osp.join(self.work_dir, 'data', name)
        mark = dict(source=source, size=list(size))
        if _read_json(osp.join(dest, _DONE)) != mark:
            self._worked = True
            self._log(f'preparing {source} at {size[0]}x{size[1]} in {dest}')
            prepare_dataset(source, dest, size)
            write_json(osp.join(dest, _DONE), mark)
        self.data_root = dest
        return dest

    # -- stage 2: fixed rules ----------------------------------------------
    def stage_rules(self) -> None:
        for rule in self.cfg.get('rules', []):
            out = osp.join(self.work_dir, 'fused',
                           InputSource(rule.name, 'vis').slug)
            mark = dict(rule=rule.rule, data=self.data_root)
            if _read_json(osp.join(out, _DONE)) != mark:
                self._worked = True
                self._log(f'fusing with the {rule.rule} rule into {out}')
                for split in _SPLITS:
                    fuse_with_rule(
                        osp.join(self.data_root, split, 'ir'),
                        osp.join(self.data_root, split, 'vi'),
                        osp.join(out, split), rule.rule)
                write_json(osp.join(out, _DONE), mark)
            self.rule_dirs[rule.name] = out

    # -- stage 3: released weights -----------------------------------------
    def stage_released(self) -> None:
        from mmfusion.models.utils import ckpt_convert
        for item in self.cfg.get('released', []):
            src = _repo_path(item.checkpoint)
            if not osp.isfile(src):
                if self.quick:  # a smoke test runs on a bare clone too
                    self.missing[item.name] = src
                    self._log(f'--quick: released weights of {item.name!r} '
                              f'({src}) not found, input left out')
                    continue
                raise FileNotFoundError(
                    f'released weights of {item.name!r}: {src} does not '
                    'exist')
            slug = InputSource(item.name, 'vis').slug
            folder = osp.join(self.work_dir, 'released', slug)
            os.makedirs(folder, exist_ok=True)
            cfg = _load_cfg(
                _repo_path(item.config), self.data_root,
                item.get('cfg_options'))
            cfg_file = osp.join(folder, 'config.py')
            cfg.dump(cfg_file)
            dst = osp.join(folder, 'weights.pth')
            st = os.stat(src)
            mark = dict(
                source=src, size=st.st_size, converter=item.get('converter'))
            if _read_json(osp.join(folder, _DONE)) != mark:
                self._worked = True
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

    # -- stage 4: training -------------------------------------------------
    def _train(self, name: str, cfg: Config, work_dir: str) -> str:
        """Train ``cfg`` with tools/train.py in ``work_dir`` (resumed when an
        interrupted run of the same config is there; any other old run is
        moved aside); returns the last checkpoint."""
        os.makedirs(work_dir, exist_ok=True)
        identity = _sha(cfg.pretty_text)
        done = _read_json(osp.join(work_dir, _DONE))
        if done and done.get('config_hash') == identity and osp.isfile(
                done.get('checkpoint', '')):
            self._log(f'{name}: already trained ({done["checkpoint"]})')
            return done['checkpoint']
        started = _read_json(osp.join(work_dir, 'task_gain_identity.json'))
        resume = bool(started) and started.get('config_hash') == identity \
            and osp.isfile(osp.join(work_dir, 'last_checkpoint'))
        if not resume and os.listdir(work_dir):
            aside = f'{work_dir}.replaced-{time.strftime("%Y%m%d_%H%M%S")}'
            os.replace(work_dir, aside)
            self._log(f'{work_dir} held another run: moved to {aside}')
            os.makedirs(work_dir)
        self._worked = True
        write_json(
            osp.join(work_dir, 'task_gain_identity.json'),
            dict(config_hash=identity))
        cfg_file = osp.join(work_dir, 'config.py')
        cfg.dump(cfg_file)
        train_py = osp.join(REPO_ROOT, 'tools', 'train.py')
        if not osp.isfile(train_py):  # an installed (non-editable) package
            train_py = osp.join(
                osp.dirname(osp.dirname(__file__)), '.mim', 'tools',
                'train.py')
        cmd = [sys.executable, train_py, cfg_file, '--work-dir', work_dir]
        if resume:
            cmd.append('--resume')
        self._log(f'{name}: training ({" ".join(cmd[1:])})' +
                  (', resumed' if resume else ''))
        log_file = osp.join(work_dir, 'train_stdout.log')
        with open(log_file, 'a') as log:
            proc = subprocess.run(
                cmd, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT)
        if proc.returncode != 0:
            raise RuntimeError(f'{name}: training failed (exit status '
                               f'{proc.returncode}); see {log_file}')
        with open(osp.join(work_dir, 'last_checkpoint')) as f:
            ckpt = f.read().strip()
        write_json(
            osp.join(work_dir, _DONE),
            dict(config_hash=identity, checkpoint=ckpt))
        return ckpt

    def _options(self, item: dict, key: str) -> dict:
        """``item[key]``, updated with ``item['quick_' + key]`` in quick
        mode."""
        options = dict(item.get(key) or {})
        if self.quick:
            options.update(item.get(f'quick_{key}') or {})
        return options

    def stage_train(self) -> None:
        for method in self.cfg.get('methods', []):
            slug = InputSource(method.name, 'vis').slug
            root = osp.join(self.work_dir, 'methods', slug)
            cfg = _load_cfg(
                _repo_path(method.config), self.data_root,
                self._options(method, 'cfg_options'))
            if method.get('warmup'):
                warm_cfg = _load_cfg(
                    _repo_path(method.warmup), self.data_root,
                    self._options(method, 'warmup_cfg_options'))
                warm = self._timed(f'train/{method.name} warm-up', self._train,
                                   f'{method.name} warm-up', warm_cfg,
                                   osp.join(root, 'warmup'))
                # the fusion net starts from the warm-up's (published: from
                # a pre-trained fusion model)
                cfg.model.fusion_net.init_cfg = dict(
                    type='Pretrained', checkpoint=warm, prefix='fusion_net.')
            ckpt = self._timed(f'train/{method.name}', self._train,
                               method.name, cfg, osp.join(root, 'train'))
            self.checkpoints[method.name] = ckpt
            self.method_configs[method.name] = osp.join(
                root, 'train', 'config.py')

    # -- stage 5: the task-driven protocol ---------------------------------
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
                n, 'fused', model_config=self.method_configs[n], checkpoint=k)
            for n, k in self.checkpoints.items()
        ]
        return sources

    def task_config(self) -> Config:
        return _load_cfg(
            _repo_path(self.cfg.task_config), self.data_root,
            self.cfg.get('task_cfg_options'))

    def stage_task_eval(self) -> TaskEvalResult:
        self.evaluation = TaskDrivenEvaluation(
            self.task_config(),
            self.sources(),
            osp.join(self.work_dir, 'task_eval'),
            seeds=self.seeds,
            device=self.device,
            fusion_batch_size=self.cfg.get('fusion_batch_size', 1))
        self.evaluation.cfg_path = self.cfg.task_config
        start = time.time()
        self.evaluation.prepare()
        self._log(f'task-driven protocol prepared in {time.time() - start:.0f}'
                  ' s (checks, fusion of the pairs)')
        self.result = self.evaluation.run(prepared=True)
        write_task_report(self.result, osp.join(self.work_dir, 'task_eval'))
        return self.result

    # -- stage 6: the report -----------------------------------------------
    def test_folders(self) -> Dict[str, str]:
        """Input name -> folder of its test-split images (what the task
        model was tested on)."""
        test_vis = osp.join(self.data_root, 'test', 'vi')
        folders = {}
        for source in self.sources():
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

    def fusion_metrics(self) -> Dict[str, Dict[str, float]]:
        self._worked = True
        from .folder_evaluation import evaluate_fused_folders
        evaluation = evaluate_fused_folders(
            self.test_folders(),
            osp.join(self.data_root, 'test', 'ir'),
            osp.join(self.data_root, 'test', 'vi'),
            metrics='all',
            progress=False)
        return evaluation.means()

    def _tdfusion_models(self) -> Dict[str, str]:
        return {
            m.name: self.checkpoints[m.name]
            for m in self.cfg.get('methods', []) if Config.fromfile(
                self.method_configs[m.name]).model.type == 'TDFusion'
        }

    def _build_model(self, cfg_file: str, ckpt: Optional[str]):
        from mmengine.registry import DefaultScope

        from mmfusion.registry import MODELS
        from mmfusion.utils.checkpoint import load_model_checkpoint
        cfg = Config.fromfile(cfg_file)
        with DefaultScope.overwrite_default_scope('mmfusion'):
            model = MODELS.build(cfg.model)
        if ckpt is not None:
            load_model_checkpoint(
                model, ckpt, map_location='cpu', logger='silent')
        return model.eval()

    def grid_pairs(self) -> List[str]:
        """Test pairs of the picture grid: the config's ``grid.names``, else
        the pairs with most person and bike pixels (day and night
        alternating)."""
        grid = self.cfg.get('grid', {})
        if grid.get('names'):
            return list(grid['names'])
        seg = osp.join(self.data_root, 'test', 'Segmentation_labels')
        scored = []
        for f in sorted(os.listdir(seg)):
            mask = cv2.imread(osp.join(seg, f), cv2.IMREAD_UNCHANGED)
            scored.append((-int(np.isin(mask,
                                        (2, 3)).sum()), osp.splitext(f)[0]))
        scored.sort()
        day = [n for _, n in scored if n.endswith('D')]
        night = [n for _, n in scored if not n.endswith('D')]
        out = []
        while len(out) < grid.get('num_pairs', 3) and (day or night):
            for group in (night, day):
                if group and len(out) < grid.get('num_pairs', 3):
                    out.append(group.pop(0))
        return out

    def picture_grid(self, out_file: str) -> Optional[str]:
        self._worked = True
        from mmfusion.datasets.pairing import index_images
        from mmfusion.visualization.fusion_grid import make_fusion_grid
        folders = self.test_folders()
        indexes = {n: index_images(d) for n, d in folders.items()}
        tdf = self._tdfusion_models()
        models = {
            n: self._build_model(self.method_configs[n], c)
            for n, c in tdf.items()
        }
        scale = self.cfg.get('grid', {}).get('scale', 2)
        rows, titles = [], None
        for name in self.grid_pairs():
            panels, titles = [], []
            for src, index in indexes.items():
                img = cv2.imread(index[name], cv2.IMREAD_COLOR)
                panels.append(img[..., ::-1])
                titles.append(src)
            ir = cv2.imread(indexes['IR'][name], cv2.IMREAD_GRAYSCALE) \
                if 'IR' in indexes else None
            vis = cv2.imread(indexes['VIS'][name], cv2.IMREAD_COLOR) \
                if 'VIS' in indexes else None
            for n, model in models.items():
                if ir is None or vis is None:
                    break
                w = loss_generator_weights(model, ir, vis)
                heat = cv2.applyColorMap(
                    np.round(w * 255).astype(np.uint8), cv2.COLORMAP_VIRIDIS)
                panels.append(heat[..., ::-1])
                titles.append(f'{n} w_IR')
            rows.append(make_fusion_grid(panels, titles, scale=scale))
        if not rows:
            return None
        width = max(r.shape[1] for r in rows)
        gap = np.full((4, width, 3), 255, np.uint8)
        out = []
        for r in rows:
            if r.shape[1] < width:
                r = np.pad(
                    r, ((0, 0), (0, width - r.shape[1]), (0, 0)),
                    constant_values=255)
            out += [r, gap]
        cv2.imwrite(out_file, np.concatenate(out[:-1])[..., ::-1])
        return out_file

    def loss_generator_study(self) -> Dict[str, List[dict]]:
        """What TDFusion's loss generator learned: for its initialisation
        and every kept checkpoint, the mean IR weight on the test pairs
        overall, on person / car / bike / background pixels, and its
        correlation with IR - VIS-Y (does it favour the brighter source?)."""
        self._worked = True
        from mmfusion.datasets.pairing import index_images
        out: Dict[str, List[dict]] = {}
        ir_dir = osp.join(self.data_root, 'test', 'ir')
        vis_dir = osp.join(self.data_root, 'test', 'vi')
        seg_dir = osp.join(self.data_root, 'test', 'Segmentation_labels')
        irs, viss, segs = (index_images(d) for d in (ir_dir, vis_dir, seg_dir))
        names = sorted(set(irs) & set(viss) & set(segs))
        for name, final in self._tdfusion_models().items():
            work = osp.dirname(final)
            ckpts = sorted(
                glob.glob(osp.join(work, 'iter_*.pth')),
                key=lambda p: int(osp.basename(p)[5:-4]))
            rows = []
            for ckpt in [None] + ckpts:
                import torch
                torch.manual_seed(0)  # the initialisation the run started
                model = self._build_model(self.method_configs[name], ckpt)
                acc = {
                    k: []
                    for k in ('all', 'person', 'car', 'bike', 'background')
                }
                corr = []
                for n in names:
                    ir = cv2.imread(irs[n], cv2.IMREAD_GRAYSCALE)
                    vis = cv2.imread(viss[n], cv2.IMREAD_COLOR)
                    seg = cv2.imread(segs[n], cv2.IMREAD_UNCHANGED)
                    w = loss_generator_weights(model, ir, vis)
                    y = cv2.cvtColor(vis, cv2.COLOR_BGR2GRAY)
                    acc['all'].append(w.ravel())
                    for k, ids in (('car', (1, )), ('person', (2, )),
                                   ('bike', (3, )), ('background', (0, ))):
                        acc[k].append(w[np.isin(seg, ids)])
                    d = ir.astype(np.float64) - y
                    if w.std() > 0 and d.std() > 0:
                        corr.append(
                            float(np.corrcoef(w.ravel(), d.ravel())[0, 1]))
                row = dict(checkpoint='initialisation' if ckpt is
                           None else osp.basename(ckpt))
                for k, v in acc.items():
                    v = np.concatenate(v) if v else np.zeros(0)
                    row[f'w_ir_{k}'] = float(v.mean()) if v.size else \
                        float('nan')
                row['corr_w_ir_vs_ir_minus_vis'] = float(np.mean(corr)) \
                    if corr else float('nan')
                rows.append(row)
            out[name] = rows
        return out

    def task_run_times(self) -> Dict[str, List[float]]:
        """Wall time (s) of every task training + test, per input: from
        the run's identity record (written when it starts) to its metrics
        (written when it ends); resumed runs count from their start."""
        out: Dict[str, List[float]] = {}
        for source in self.evaluation.sources:
            for seed in self.evaluation.seeds:
                folder = self.evaluation.run_dir(source, seed)
                start = osp.join(folder, 'run_identity.json')
                end = osp.join(folder, 'task_metrics.json')
                if osp.isfile(start) and osp.isfile(end):
                    out.setdefault(source.name, []).append(
                        round(
                            os.stat(end).st_mtime - os.stat(start).st_mtime,
                            1))
        return out

    def stage_report(self) -> str:
        from mmfusion.visualization import plot_task_metrics
        if self.result is None:
            raise RuntimeError('the report needs the task_eval stage')
        fusion = self._timed('report/fusion metrics', self.fusion_metrics)
        grid = self._timed('report/picture grid', self.picture_grid,
                           osp.join(self.work_dir, 'task_gain_grid.png'))
        study = self._timed('report/loss generator', self.loss_generator_study)
        result = self.result
        metrics = [
            m for m in result.metrics
            if m in ('mIoU', 'aAcc') or m.startswith('IoU.')
        ]
        shown = [
            m for m in metrics if m == 'mIoU' or (m.startswith('IoU.') and any(
                is_finite(result.rows[n].get(m)) for n in result.rows))
        ]
        names = [s.name for s in result.sources]
        plot_task_metrics({n: result.rows[n]
                           for n in names},
                          shown,
                          osp.join(self.work_dir, 'task_gain.png'),
                          title='Task gain: segmenter trained on each input '
                          f'(mean ± std, {len(result.seeds)} seeds)',
                          errors={n: result.std.get(n, {})
                                  for n in names})
        report = dict(
            experiment=self.cfg_path,
            quick=self.quick,
            task_config=self.cfg.task_config,
            data=self.data_root,
            seeds=result.seeds,
            num_pairs=result.num_pairs,
            inputs=[
                dict(name=s.name, input=s.describe()) for s in result.sources
            ],
            task=dict(
                mean=result.rows,
                std=result.std,
                runs={
                    n: {
                        str(k): v
                        for k, v in r.items()
                    }
                    for n, r in result.runs.items()
                }),
            fusion_metrics=fusion,
            loss_generator=study,
            timings=self.timings,
            task_run_seconds=self.task_run_times(),
            missing=self.missing,
            grid=grid)
        write_json(osp.join(self.work_dir, 'task_gain.json'), _strict(report))
        with open(
                osp.join(self.work_dir, 'task_gain.csv'), 'w',
                newline='') as f:
            writer = csv.writer(f)
            fm = list(next(iter(fusion.values()))) if fusion else []
            writer.writerow(['input'] + metrics +
                            [f'{m}_std' for m in metrics] + fm)
            for n in names:
                writer.writerow([n] +
                                [result.rows[n].get(m, '') for m in metrics] +
                                [result.std[n].get(m, '') for m in metrics] +
                                [fusion.get(n, {}).get(m, '') for m in fm])
        md = self.markdown(report, metrics)
        with open(osp.join(self.work_dir, 'task_gain.md'), 'w') as f:
            f.write(md)
        return md

    def markdown(self, report: dict, metrics: Sequence[str]) -> str:
        result = self.result
        present = [
            m for m in metrics if any(
                is_finite(result.rows[n].get(m)) for n in result.rows)
        ]
        lines = [
            '# Task gain', '', f'Experiment `{self.cfg_path}`' +
            (' (**--quick**: a smoke test, the numbers mean nothing)'
             if self.quick else '') +
            f'; data `{self.data_root}` ({_pairs(result.num_pairs)}); task '
            f'config `{self.cfg.task_config}`; seeds '
            f'{", ".join(map(str, result.seeds))}: one task model trained '
            'per input and seed, tested on the same input of the test split; '
            f'mean ± sample std over the {len(result.seeds)} seeds. mIoU is '
            'the mean over the classes present in the test split.', '',
            task_table(result, present)
        ]
        lines += ['', 'Inputs:', '']
        lines += [f'- **{s.name}**: {s.describe()}' for s in result.sources]
        lines += [
            f'- *{n}*: left out, {p} not found'
            for n, p in self.missing.items()
        ]
        fusion = report['fusion_metrics']
        if fusion:
            fm = list(next(iter(fusion.values())))
            lines += [
                '', '## Fusion metrics (test split, mean over pairs)', '',
                '| input | ' + ' | '.join(fm) + ' |',
                '|---|' + '---|' * len(fm)
            ]
            for n, row in fusion.items():
                lines.append(f'| {n} | ' + ' | '.join(f'{row[m]:.4g}'
                                                      for m in fm) + ' |')
        for name, rows in (report['loss_generator'] or {}).items():
            keys = [k for k in rows[0] if k != 'checkpoint']
            lines += [
                '', f'## What the loss generator of {name} learned', '',
                'Mean IR weight of the generated fusion loss on the '
                'test pairs (w_VIS = 1 - w_IR), by region, and its '
                'correlation with IR - VIS-Y per image (mean):', '',
                '| checkpoint | ' + ' | '.join(keys) + ' |',
                '|---|' + '---|' * len(keys)
            ]
            for r in rows:
                lines.append(f'| {r["checkpoint"]} | ' +
                             ' | '.join(f'{r[k]:.3f}' for k in keys) + ' |')
        if report['grid']:
            lines += [
                '', '## Pictures', '',
                f'![grid]({osp.basename(report["grid"])})'
            ]
        lines += [
            '', '## Wall time (s)', '', '| stage | seconds |', '|---|---|'
        ]
        lines += [f'| {k} | {v:.0f} |' for k, v in self.timings.items()]
        runs = report['task_run_seconds']
        total = sum(sum(v) for v in runs.values())
        lines += [
            f'| task trainings + tests ({sum(map(len, runs.values()))} '
            f'runs, {total / max(1, sum(map(len, runs.values()))):.0f}'
            ' s each on average) | '
            f'{total:.0f} |'
        ]
        return '\n'.join(lines) + '\n'

    # -- all ---------------------------------------------------------------
    def run(self) -> Optional[str]:
        """Run the stages; returns the markdown report (``report`` stage)."""
        start = time.time()
        self._timed('data', self.stage_data)
        self._timed('rules', self.stage_rules)
        self._timed('released', self.stage_released)
        if 'train' in self.stages:
            self.stage_train()
        elif 'task_eval' in self.stages or 'report' in self.stages:
            self._collect_trained()
        md = None
        if 'task_eval' in self.stages or 'report' in self.stages:
            self.stage_task_eval()
        if 'report' in self.stages:
            md = self.stage_report()
        self._log(f'finished in {time.time() - start:.0f} s; report: '
                  f'{osp.join(self.work_dir, "task_gain.md")}')
        return md

    def _collect_trained(self) -> None:
        for method in self.cfg.get('methods', []):
            root = osp.join(self.work_dir, 'methods',
                            InputSource(method.name, 'vis').slug, 'train')
            done = _read_json(osp.join(root, _DONE))
            if not done:
                raise FileNotFoundError(
                    f'{method.name!r} is not trained yet ({root}): run the '
                    'train stage')
            self.checkpoints[method.name] = done['checkpoint']
            self.method_configs[method.name] = osp.join(root, 'config.py')


def _pairs(num_pairs: dict) -> str:
    return ', '.join(f'{k} {v}' for k, v in num_pairs.items())


def _strict(obj):
    """NaN -> None for strict JSON."""
    if isinstance(obj, dict):
        return {str(k): _strict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_strict(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, ConfigDict):
        return _strict(dict(obj))
    return obj
