# Copyright (c) mmfusion contributors. All rights reserved.
"""The experiment's report: the task table of every input, the paired
differences of every method and its twin, the fusion metrics, the picture
grid and what TDFusion's loss generator learned.

Everything here reads a finished :class:`~.runner.TaskGainExperiment`
(trained nets, the protocol's result) and writes
``WORK_DIR/task_gain.{md,csv,json,png}`` and ``task_gain_grid.png``.
"""
import csv
import glob
import math
import os
import os.path as osp
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence

import cv2
import numpy as np
from mmengine.config import Config, ConfigDict

from ..task_driven.identity import write_json
from ..task_driven.report import (HEADLINE, default_plot_metrics, is_finite,
                                  task_table)
from .progress import format_seconds

if TYPE_CHECKING:
    from .runner import TaskGainExperiment

__all__ = [
    'loss_generator_weights', 'paired_differences', 'paired_table',
    'report_metrics', 'write_report'
]


def _per_class(metric: str) -> bool:
    """A per-class metric: mmseg's ``IoU.<class>``, mmdet CocoMetric's
    ``coco/<class>_precision`` (``classwise=True``)."""
    last = metric.split('/')[-1]
    return last.startswith('IoU.') or last.endswith('_precision')


def report_metrics(metrics: Sequence[str]) -> tuple:
    """``(headline, kept)`` of a task's metrics: the headline (the first
    of mIoU; mAP@0.5 / mAP / bbox_mAP, as
    :func:`~mmfusion.apis.task_driven.report.default_plot_metrics`) that
    the verdict is on, and the metrics the report keeps (the summary ones,
    aAcc and the per-class ones), in the protocol's order."""
    kept = [
        m
        for m in metrics if HEADLINE.search(m) or m == 'aAcc' or _per_class(m)
    ] or list(metrics)
    head = default_plot_metrics(kept)
    return (head[0] if head else None), kept


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
# paired differences: method - twin, paired by fusion seed
# ----------------------------------------------------------------------
def paired_differences(result,
                       pairs: Dict[str, dict],
                       metrics: Sequence[str],
                       headline: str = 'mIoU') -> Dict[str, dict]:
    """Per method with a twin: the paired difference (method - twin) of
    every metric over the fusion seeds, each net's value being its mean
    over the protocol's seeds, and the verdict on ``headline``.

    Args:
        result: the protocol's :class:`~mmfusion.apis.task_driven.
            TaskEvalResult`.
        pairs: ``{method: dict(twin=twin name, seeds=[...],
            method_rows=[...], twin_rows=[...])}`` (rows in seed order).
        metrics: the metrics to compare (``mIoU``, ``IoU.<class>``;
            ``pascal_voc/mAP``, ``coco/<class>_precision``).
        headline: the metric of the verdict (default ``mIoU``).

    Returns:
        ``{method: dict(twin, seeds, metrics={metric: paired_difference},
        headline, verdict)}`` (see :mod:`mmfusion.evaluation.functional.
        paired_stats`).
    """
    from mmfusion.evaluation.functional.paired_stats import (paired_difference,
                                                             verdict)
    out = {}
    for method, pair in pairs.items():
        diffs = {}
        for m in metrics:
            a = [
                result.rows[r].get(m, float('nan'))
                for r in pair['method_rows']
            ]
            b = [
                result.rows[r].get(m, float('nan')) for r in pair['twin_rows']
            ]
            a = [float(v) if is_finite(v) else float('nan') for v in a]
            b = [float(v) if is_finite(v) else float('nan') for v in b]
            if any(map(math.isfinite, a + b)):
                diffs[m] = paired_difference(a, b)
        out[method] = dict(
            twin=pair['twin'],
            seeds=list(pair['seeds']),
            metrics=diffs,
            headline=headline,
            verdict=verdict(diffs[headline])
            if headline in diffs else f'no {headline}')
    return out


def _ci(d: dict) -> str:
    if not math.isfinite(d['mean']):
        return '–'
    if not math.isfinite(d['ci_low']):
        return f'{d["mean"]:+.2f}'
    return f'{d["mean"]:+.2f} [{d["ci_low"]:+.2f}, {d["ci_high"]:+.2f}]'


def paired_table(paired: Dict[str, dict]) -> str:
    """Markdown: one row per method, the mean paired difference and its 95 %
    CI of every metric, and the verdict."""
    metrics: List[str] = []
    for p in paired.values():
        metrics += [m for m in p['metrics'] if m not in metrics]
    heads = list(
        dict.fromkeys(p.get('headline', 'mIoU')
                      for p in paired.values())) or ['mIoU']
    lines = [
        '| method − twin | pairs | ' + ' | '.join(f'Δ{m}' for m in metrics) +
        f' | verdict ({", ".join(heads)}) |',
        '|---|---|' + '---|' * len(metrics) + '---|'
    ]
    for method, p in paired.items():
        n = p['metrics'].get(p.get('headline', 'mIoU'),
                             {}).get('n', len(p['seeds']))
        cells = [
            _ci(p['metrics'][m]) if m in p['metrics'] else '–' for m in metrics
        ]
        lines.append(f'| {method} − {p["twin"]} | {n} | ' + ' | '.join(cells) +
                     f' | {p["verdict"]} |')
    return '\n'.join(lines)


# ----------------------------------------------------------------------
# fusion metrics, pictures, loss generator
# ----------------------------------------------------------------------
def fusion_metrics(exp: 'TaskGainExperiment') -> Dict[str, Dict[str, float]]:
    from ..folder_evaluation import evaluate_fused_folders
    evaluation = evaluate_fused_folders(
        exp.test_folders(),
        osp.join(exp.data_root, 'test', 'ir'),
        osp.join(exp.data_root, 'test', 'vi'),
        metrics='all',
        progress=False)
    return evaluation.means()


def build_model(cfg_file: str, ckpt: Optional[str]):
    from mmengine.registry import DefaultScope

    from mmfusion.registry import MODELS
    from mmfusion.utils.checkpoint import load_model_checkpoint
    cfg = Config.fromfile(cfg_file)
    with DefaultScope.overwrite_default_scope('mmfusion'):
        model = MODELS.build(cfg.model)
    if ckpt is not None:
        load_model_checkpoint(model, ckpt, map_location='cpu', logger='silent')
    return model.eval()


def grid_pairs(exp: 'TaskGainExperiment') -> List[str]:
    """Test pairs of the picture grid: the preset's ``grid.names``, else
    the pairs with most person and bike pixels (day and night
    alternating)."""
    grid = exp.cfg.get('grid', {})
    if grid.get('names'):
        return list(grid['names'])
    seg = osp.join(exp.data_root, 'test', 'Segmentation_labels')
    scored = []
    for f in sorted(os.listdir(seg)):
        mask = cv2.imread(osp.join(seg, f), cv2.IMREAD_UNCHANGED)
        scored.append((-int(np.isin(mask, (2, 3)).sum()), osp.splitext(f)[0]))
    scored.sort()
    day = [n for _, n in scored if n.endswith('D')]
    night = [n for _, n in scored if not n.endswith('D')]
    out = []
    while len(out) < grid.get('num_pairs', 3) and (day or night):
        for group in (night, day):
            if group and len(out) < grid.get('num_pairs', 3):
                out.append(group.pop(0))
    return out


def picture_grid(exp: 'TaskGainExperiment', out_file: str) -> Optional[str]:
    """VIS | IR | every fused input of the first fusion seed | the IR
    weight map of every TDFusion net of that seed, one row per pair."""
    from mmfusion.datasets.pairing import index_images
    from mmfusion.visualization.fusion_grid import make_fusion_grid
    shown = exp.first_seed_inputs()
    folders = {n: d for n, d in exp.test_folders().items() if n in shown}
    indexes = {n: index_images(d) for n, d in folders.items()}
    models = {
        n: build_model(cfg, ckpt)
        for n, (cfg, ckpt) in exp.tdfusion_nets().items()
    }
    scale = exp.cfg.get('grid', {}).get('scale', 2)
    rows = []
    for name in grid_pairs(exp):
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


def loss_generator_study(exp: 'TaskGainExperiment') -> Dict[str, List[dict]]:
    """What TDFusion's loss generator learned (the nets of the first fusion
    seed): for its initialisation and every kept checkpoint, the mean IR
    weight on the test pairs overall, on person / car / bike / background
    pixels, and its correlation with IR - VIS-Y (does it favour the
    brighter source?)."""
    import torch

    from mmfusion.datasets.pairing import index_images
    out: Dict[str, List[dict]] = {}
    root = osp.join(exp.data_root, 'test')
    irs, viss, segs = (
        index_images(osp.join(root, d))
        for d in ('ir', 'vi', 'Segmentation_labels'))
    names = sorted(set(irs) & set(viss) & set(segs))
    for name, (cfg_file, final) in exp.tdfusion_nets().items():
        ckpts = sorted(
            glob.glob(osp.join(osp.dirname(final), 'iter_*.pth')),
            key=lambda p: int(osp.basename(p)[5:-4]))
        seed = exp.run_of(name).seed
        rows = []
        for ckpt in [None] + ckpts:
            torch.manual_seed(seed)  # the initialisation the run started
            model = build_model(cfg_file, ckpt)
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
                    corr.append(float(np.corrcoef(w.ravel(), d.ravel())[0, 1]))
            row = dict(checkpoint='initialisation' if ckpt is
                       None else osp.basename(ckpt))
            for k, v in acc.items():
                v = np.concatenate(v) if v else np.zeros(0)
                row[f'w_ir_{k}'] = float(v.mean()) if v.size else float('nan')
            row['corr_w_ir_vs_ir_minus_vis'] = float(np.mean(corr)) \
                if corr else float('nan')
            rows.append(row)
        out[name] = rows
    return out


# ----------------------------------------------------------------------
# the report files
# ----------------------------------------------------------------------
def write_report(exp: 'TaskGainExperiment') -> str:
    """Write ``task_gain.{json,csv,md,png}`` and the picture grid; returns
    the markdown."""
    from mmfusion.visualization import plot_task_metrics
    result = exp.result
    work = exp.work_dir
    fusion = exp.progress.run('report/fusion metrics', 'report/fusion metrics',
                              'report: fusion metrics', lambda:
                              (fusion_metrics(exp), True))
    grid = exp.progress.run(
        'report/picture grid', 'report/picture grid', 'report: picture grid',
        lambda:
        (picture_grid(exp, osp.join(work, 'task_gain_grid.png')), True))
    study = exp.progress.run('report/loss generator', 'report/loss generator',
                             'report: loss generator', lambda:
                             (loss_generator_study(exp), True))
    headline, metrics = report_metrics(result.metrics)
    shown = [
        m for m in metrics if m == headline or (_per_class(m) and any(
            is_finite(result.rows[n].get(m)) for n in result.rows))
    ]
    names = [s.name for s in result.sources]
    plot_task_metrics({n: result.rows[n]
                       for n in names},
                      shown,
                      osp.join(work, 'task_gain.png'),
                      title='Task gain: task model trained on each input '
                      f'(mean ± std, {len(result.seeds)} seeds)',
                      errors={n: result.std.get(n, {})
                              for n in names})
    paired = paired_differences(result, exp.twin_pairs(), shown, headline)
    report = dict(
        experiment=exp.cfg_path,
        quick=exp.quick,
        task_config=exp.cfg.task_config,
        data=exp.data_root,
        seeds=result.seeds,
        fusion_seeds=exp.fusion_seeds,
        num_pairs=result.num_pairs,
        inputs=[dict(name=s.name, input=s.describe()) for s in result.sources],
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
        headline=headline,
        paired=paired,
        fusion_metrics=fusion,
        loss_generator=study,
        timings=exp.progress.timings,
        task_run_seconds=exp.task_run_times(),
        missing=exp.missing,
        grid=grid)
    write_json(osp.join(work, 'task_gain.json'), _strict(report))
    with open(osp.join(work, 'task_gain.csv'), 'w', newline='') as f:
        writer = csv.writer(f)
        fm = list(next(iter(fusion.values()))) if fusion else []
        writer.writerow(['input'] + metrics + [f'{m}_std'
                                               for m in metrics] + fm)
        for n in names:
            writer.writerow([n] + [result.rows[n].get(m, '')
                                   for m in metrics] +
                            [result.std[n].get(m, '') for m in metrics] +
                            [fusion.get(n, {}).get(m, '') for m in fm])
    md = markdown(exp, report, metrics)
    with open(osp.join(work, 'task_gain.md'), 'w') as f:
        f.write(md)
    return md


def _pairs(num_pairs: dict) -> str:
    return ', '.join(f'{k} {v}' for k, v in num_pairs.items())


def markdown(exp: 'TaskGainExperiment', report: dict,
             metrics: Sequence[str]) -> str:
    result = exp.result
    present = [
        m for m in metrics if any(
            is_finite(result.rows[n].get(m)) for n in result.rows)
    ]
    head = report.get('headline', 'mIoU')
    lines = [
        '# Task gain', '', f'Experiment `{exp.cfg_path}`' +
        (' (**--quick**: a smoke test, the numbers mean nothing)'
         if exp.quick else '') +
        f'; data `{exp.data_root}` ({_pairs(result.num_pairs)}); task '
        f'config `{exp.cfg.task_config}`; seeds '
        f'{", ".join(map(str, result.seeds))}: one task model trained '
        'per input and seed, tested on the same input of the test split; '
        f'mean ± sample std over the {len(result.seeds)} seeds.' +
        (' mIoU is the mean over the classes present in the test split.'
         if head == 'mIoU' else '') +
        (f' Every method and twin was trained under the fusion seeds '
         f'{", ".join(map(str, exp.fusion_seeds))} (rows `<name> s<seed>`).'
         if len(exp.fusion_seeds) > 1 else ''), '',
        task_table(result, present)
    ]
    if report['paired']:
        lines += [
            '', '## The task-driven part: method − twin', '',
            'Paired by fusion seed (each net: mean over the protocol seeds); '
            'mean difference and 95 % Student-t confidence interval over '
            f'the seed pairs. Verdict on {head}: *helps* (interval above 0), '
            '*no effect detectable at this scale* (contains 0), *hurts* '
            '(below 0).', '',
            paired_table(report['paired'])
        ]
    lines += ['', 'Inputs:', '']
    lines += [f'- **{s.name}**: {s.describe()}' for s in result.sources]
    lines += [
        f'- *{n}*: left out, {p} not found' for n, p in exp.missing.items()
    ]
    fusion = report['fusion_metrics']
    if fusion:
        fm = list(next(iter(fusion.values())))
        lines += [
            '', '## Fusion metrics (test split, mean over pairs)', '',
            '| input | ' + ' | '.join(fm) + ' |', '|---|' + '---|' * len(fm)
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
            '', '## Pictures', '', f'![grid]({osp.basename(report["grid"])})'
        ]
    lines += ['', '## Wall time (s)', '', '| stage | seconds |', '|---|---|']
    lines += [f'| {k} | {v:.0f} |' for k, v in exp.progress.timings.items()]
    total = sum(exp.progress.timings.values())
    lines += [f'| **all stages** | {total:.0f} ({format_seconds(total)}) |']
    return '\n'.join(lines) + '\n'


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
