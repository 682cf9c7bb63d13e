# Copyright (c) mmfusion contributors. All rights reserved.
"""SeAFusion-style plots of per-image fusion metrics."""
import os
import os.path as osp
from typing import Dict, Sequence

import numpy as np

__all__ = ['plot_metric_distribution']

# distinguishable colours and markers, cycled (as SeAFusion's plot_metrics.m)
_COLOURS = ('#228b22', '#ffd700', '#ff00ff', '#00cccc', '#800080', '#80ff00',
            '#1f77b4', '#ff0080', '#ff8000', '#ff0000')
_MARKERS = ('*', 'o', 'x', 's', 'd', 'h', '^', 'v', '+', 'p')


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
    import matplotlib
    matplotlib.use('Agg', force=False)
    import matplotlib.pyplot as plt

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
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    fig.savefig(out_file)
    plt.close(fig)
    return out_file
