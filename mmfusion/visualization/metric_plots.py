# Copyright (c) mmfusion contributors. All rights reserved.
"""Plots of evaluation results: SeAFusion-style distributions of per-image
fusion metrics, and grouped bars of task metrics per input source."""
import os
import os.path as osp
from typing import Dict, Optional, Sequence

import numpy as np

__all__ = ['plot_metric_distribution', 'plot_task_metrics']

# distinguishable colours and markers, cycled (as SeAFusion's plot_metrics.m)
_COLOURS = ('#228b22', '#ffd700', '#ff00ff', '#00cccc', '#800080', '#80ff00',
            '#1f77b4', '#ff0080', '#ff8000', '#ff0000')
_MARKERS = ('*', 'o', 'x', 's', 'd', 'h', '^', 'v', '+', 'p')


def _pyplot():
    """``matplotlib.pyplot`` on the file-only Agg backend (imported when a
    plot is drawn, not with the package)."""
    import matplotlib
    matplotlib.use('Agg', force=False)
    import matplotlib.pyplot as plt
    return plt


def _save(fig, out_file: str) -> str:
    """Lay out, write (creating the folder) and close a figure."""
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    fig.savefig(out_file)
    _pyplot().close(fig)
    return out_file


def plot_metric_distribution(values: Dict[str, Sequence[float]],
                             metric: str,
                             out_file: str,
                             higher_is_better: bool = True) -> str:
    """Plot the cumulative distribution of one metric for several methods.

    For every method the per-image values are sorted and drawn against the
    fraction of image pairs: a point (x, y) says that 100x % of the pairs
    have a value of at most y (the presentation of SeAFusion, Fig. 8). The
    legend gives each method's mean.

    Args:
        values: method name -> per-image values (non-finite ones are
            dropped from the curve, not from the legend's mean).
        metric: metric name (title).
        out_file: image path (``.png``, ``.pdf``, ``.svg`` ...).
        higher_is_better: shown in the title as an arrow.

    Returns:
        str: ``out_file``.
    """
    plt = _pyplot()

    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=100)
    for i, (method, vals) in enumerate(values.items()):
        vals = np.asarray(list(vals), dtype=np.float64)
        finite = np.sort(vals[np.isfinite(vals)])
        if finite.size == 0:
            continue
        x = np.arange(1, finite.size + 1) / finite.size
        mean = float(np.mean(vals)) if vals.size else float('nan')
        ax.plot(
            x,
            finite,
            linestyle='-',
            marker=_MARKERS[i % len(_MARKERS)],
            color=_COLOURS[i % len(_COLOURS)],
            markersize=5,
            linewidth=1,
            markevery=max(1, finite.size // 25),
            label=f'{method}: {mean:.4f}')
    arrow = '\u2191' if higher_is_better else '\u2193'
    ax.set_title(f'{metric} {arrow}', fontsize=14, fontweight='bold')
    ax.set_xlabel('Fraction of image pairs')
    ax.set_ylabel('Values of the metric')
    ax.set_xlim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9, loc='best')
    return _save(fig, out_file)


def plot_task_metrics(
        rows: Dict[str, Dict[str, float]],
        metrics: Sequence[str],
        out_file: str,
        title: str = 'Task-driven evaluation',
        errors: Optional[Dict[str, Dict[str, float]]] = None) -> str:
    """Grouped bars: one group per metric, one bar per input source (VIS,
    IR, each fusion method), the value written on each bar.

    Args:
        rows: source name -> metric -> value (a missing or non-finite value
            leaves its bar out).
        metrics: metrics to draw, in order.
        out_file: image path (``.png``, ``.pdf``, ``.svg`` ...).
        title: figure title.
        errors: source name -> metric -> error bar half-length (e.g. the
            standard deviation over seeds); non-finite ones are not drawn.

    Returns:
        str: ``out_file``.
    """
    plt = _pyplot()

    names = list(rows)
    n, m = len(names), len(metrics)
    width = 0.8 / max(n, 1)
    fig, ax = plt.subplots(
        figsize=(max(6.4, 1.2 + m * (0.35 * n + 0.5)), 4.8), dpi=100)
    for i, name in enumerate(names):
        xs, ys, es = [], [], []
        for j, metric in enumerate(metrics):
            value = rows[name].get(metric)
            if isinstance(value, (int, float)) and np.isfinite(value):
                xs.append(j - 0.4 + width * (i + 0.5))
                ys.append(float(value))
                err = (errors or {}).get(name, {}).get(metric)
                es.append(
                    float(err) if isinstance(err, (
                        int, float)) and np.isfinite(err) else 0.)
        bars = ax.bar(
            xs,
            ys,
            width,
            label=name,
            color=_COLOURS[i % len(_COLOURS)],
            yerr=es if any(es) else None,
            capsize=3 if any(es) else 0,
            error_kw=dict(elinewidth=1, ecolor='0.2'))
        ax.bar_label(
            bars,
            labels=[f'{y:.1f}' if abs(y) >= 10 else f'{y:.3g}' for y in ys],
            fontsize=7,
            padding=1)
    ax.set_xticks(range(m))
    ax.set_xticklabels(
        list(metrics),
        rotation=30 if m > 4 else 0,
        ha='right' if m > 4 else 'center')
    ax.set_title(title, fontsize=13, fontweight='bold')
    ax.set_ylabel('value')
    ax.grid(axis='y', alpha=0.3)
    ax.legend(fontsize=9, loc='best')
    return _save(fig, out_file)
