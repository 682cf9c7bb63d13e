# Copyright (c) mmfusion contributors. All rights reserved.
"""The task-driven table: the result of every source (and seed), and its
report (markdown, CSV, JSON, bar plots)."""
import csv
import json
import math
import os
import os.path as osp
import re
import warnings
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np

from .identity import json_metrics
from .sources import InputSource

__all__ = [
    'TaskEvalResult', 'aggregate_seeds', 'default_plot_metrics', 'task_table',
    'write_task_report'
]


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
    runs: Dict[str, Dict[Optional[int],
                         Dict[str, float]]] = field(default_factory=dict)

    def __post_init__(self):
        if not self.seeds:
            self.seeds = [self.seed]
        elif self.seed is None:
            self.seed = self.seeds[0]

    @property
    def multi_seed(self) -> bool:
        return len(self.seeds) > 1

    def add(self, name: str, runs: Dict[Optional[int], Dict[str,
                                                            float]]) -> None:
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
        numbers = [
            float(v) for v in values
            if isinstance(v, (int, float)) and not isinstance(v, bool)
        ]
        if len(numbers) != len([v for v in values if v is not None]):
            mean[k], std[k] = values[0], float('nan')
            continue
        finite = [v for v in numbers if math.isfinite(v)]
        mean[k] = float(np.mean(finite)) if finite else float('nan')
        std[k] = float(np.std(finite, ddof=1)) if len(finite) > 1 else \
            float('nan')
    return mean, std


HEADLINE = re.compile(r'(^|/)(mIoU|mAP|bbox_mAP|bbox_mAP_50|AP50)$')


def default_plot_metrics(metrics: Sequence[str]) -> List[str]:
    """The headline metrics of a task (mIoU; mAP / bbox_mAP / mAP@0.5),
    else the first metric."""
    head = [m for m in metrics if HEADLINE.search(m)]
    return head or list(metrics[:1])


def is_finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _fmt(value) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if math.isnan(value):
            return 'nan'
        return f'{value:.2f}' if abs(value) >= 1 or value == 0 else \
            f'{value:.4g}'
    return str(value)


def task_table(result: TaskEvalResult, metrics: Sequence[str]) -> str:
    """Table of the metrics, best (mean) value in bold; ``mean ± std`` with
    several seeds."""
    best = {}
    for k in metrics:
        col = [r[k] for r in result.rows.values() if is_finite(r.get(k))]
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
            if result.multi_seed and is_finite(std):
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
                            ([std.get(k, '')
                              for k in metrics] if stds else []))
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
                    name: json_metrics(row)
                    for name, row in result.rows.items()
                },
                std={
                    name: json_metrics(row)
                    for name, row in result.std.items()
                } if result.multi_seed else {},
                runs={
                    name: {
                        str(seed): json_metrics(m)
                        for seed, m in runs.items()
                    }
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
        lines.append('Pairs: ' +
                     ', '.join(f'{k} {v}'
                               for k, v in result.num_pairs.items()) + '.')
        lines.append('')
    lines += [f'- **{s.name}**: {s.describe()}' for s in result.sources]
    lines += ['', task_table(result, summary), '']
    if per_class:
        # the per-class IoU is the table of the papers; CSV/JSON hold all
        iou = [m for m in per_class if m.split('/')[-1].startswith('IoU.')]
        lines += [
            'Per class' + (' (IoU):' if iou else ':'), '',
            task_table(result, iou or per_class), ''
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
        errors = {
            n: result.std.get(n, {})
            for n in names
        } if result.multi_seed else None
        plot_task_metrics({n: result.rows[n]
                           for n in names},
                          shown,
                          osp.join(out_dir, f'task_eval.{plot_format}'),
                          errors=errors)
        iou = [m for m in per_class if m.split('/')[-1].startswith('IoU.')]
        # classes absent from the test split (NaN for every input) are left
        # out of the plot
        iou = [
            m for m in iou or per_class if any(
                is_finite(result.rows[n].get(m)) for n in names)
        ]
        if iou:
            plot_task_metrics({n: result.rows[n]
                               for n in names},
                              iou,
                              osp.join(out_dir,
                                       f'task_eval_per_class.{plot_format}'),
                              errors=errors)
    return report
