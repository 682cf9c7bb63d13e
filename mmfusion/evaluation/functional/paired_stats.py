# Copyright (c) mmfusion contributors. All rights reserved.
"""Paired differences with Student-t confidence intervals (numpy only).

The task-gain experiment trains each task-driven method and its task-free
twin under the same seeds and compares them *pair by pair*: with values
:math:`a_i` (method) and :math:`b_i` (twin) for seed :math:`i = 1..n`, the
differences :math:`d_i = a_i - b_i` have mean :math:`\\bar d`, sample
standard deviation :math:`s` (``ddof=1``) and the two-sided confidence
interval

.. math::
    \\bar d \\pm t_{1 - (1 - c)/2,\\; n - 1} \\, s / \\sqrt{n}

(the paired t interval). :func:`verdict` reads it: entirely above 0
*helps*, containing 0 *no effect detectable at this scale*, entirely below
0 *hurts* (for a metric where higher is better, such as mIoU).

The Student-t quantile is computed here (:func:`t_quantile`: the
regularised incomplete beta function by its continued fraction, inverted by
bisection), so nothing beyond numpy is needed; it agrees with
``scipy.stats.t.ppf`` to ~1e-10.
"""
import math
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

HELPS = 'helps'
NO_EFFECT = 'no effect detectable at this scale'
HURTS = 'hurts'
#: the verdict of a result with fewer than 2 valid pairs (no interval)
NOT_ENOUGH = 'not enough pairs'
VERDICTS = (HELPS, NO_EFFECT, HURTS)


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the regularised incomplete beta function
    (modified Lentz's method)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def regularized_incomplete_beta(a: float, b: float, x: float) -> float:
    """:math:`I_x(a, b)` for ``a, b > 0`` and ``0 <= x <= 1``."""
    if not (a > 0 and b > 0):
        raise ValueError(f'a and b must be > 0, got a={a}, b={b}')
    if not 0.0 <= x <= 1.0:
        raise ValueError(f'x must be in [0, 1], got {x}')
    if x in (0.0, 1.0):
        return x
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) +
        a * math.log(x) + b * math.log1p(-x))
    front = math.exp(log_front)
    # the continued fraction converges fast for x < (a + 1) / (a + b + 2);
    # otherwise use the symmetry I_x(a, b) = 1 - I_{1-x}(b, a)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_continued_fraction(a, b, x) / a
    return 1.0 - front * _beta_continued_fraction(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """The Student-t distribution function with ``df`` degrees of
    freedom."""
    if df <= 0:
        raise ValueError(f'degrees of freedom must be > 0, got {df}')
    if t == 0:
        return 0.5
    tail = 0.5 * regularized_incomplete_beta(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The ``p``-quantile of the Student-t distribution with ``df`` degrees
    of freedom (``t_quantile(0.975, 2) = 4.3027``), by bisection of
    :func:`t_cdf` to machine precision."""
    if not 0.0 < p < 1.0:
        raise ValueError(f'p must be in (0, 1), got {p}')
    if df <= 0:
        raise ValueError(f'degrees of freedom must be > 0, got {df}')
    if p == 0.5:
        return 0.0
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        lo, hi = hi, hi * 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def paired_difference(a: Sequence[float],
                      b: Sequence[float],
                      confidence: float = 0.95) -> Dict[str, object]:
    """Mean of the paired differences ``a - b`` and its Student-t
    confidence interval.

    Args:
        a, b: one value per pair (e.g. the method's and the twin's mIoU for
            each fusion seed), in the same order. Pairs in which either
            value is not finite (NaN: e.g. a class absent from the test
            split) are left out and counted in ``dropped``.
        confidence: the interval's coverage, in (0, 1).

    Returns:
        ``dict(mean, sd, n, ci_low, ci_high, diffs, confidence, dropped)``:
        ``sd`` is the sample standard deviation (``ddof=1``) of the
        differences, ``diffs`` the differences of the valid pairs (a list
        of floats). With fewer than 2 valid pairs there is no interval:
        ``sd``, ``ci_low`` and ``ci_high`` are NaN (and ``mean`` too with
        none), and :func:`verdict` says ``'not enough pairs'``.

    Raises:
        ValueError: ``a`` and ``b`` of different lengths or not 1-D, or a
            confidence outside (0, 1).
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f'confidence must be in (0, 1), got {confidence}')
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError('paired_difference needs two 1-D sequences of the '
                         f'same length (one value per pair), got shapes '
                         f'{a.shape} and {b.shape}')
    valid = np.isfinite(a) & np.isfinite(b)
    diffs = (a - b)[valid]
    n = int(diffs.size)
    nan = float('nan')
    mean = float(diffs.mean()) if n else nan
    sd = ci_low = ci_high = nan
    if n >= 2:
        sd = float(diffs.std(ddof=1))
        half = t_quantile(1.0 - (1.0 - confidence) / 2.0, n - 1) * \
            sd / math.sqrt(n)
        ci_low, ci_high = mean - half, mean + half
    return dict(
        mean=mean,
        sd=sd,
        n=n,
        ci_low=ci_low,
        ci_high=ci_high,
        diffs=[float(d) for d in diffs],
        confidence=float(confidence),
        dropped=int(valid.size - n))


def verdict(result: Dict[str, object], higher_is_better: bool = True) -> str:
    """One line for a :func:`paired_difference` result: ``'helps'`` (the
    interval lies above 0), ``'no effect detectable at this scale'`` (it
    contains 0), ``'hurts'`` (it lies below 0); ``higher_is_better=False``
    swaps the first and last (a metric to minimise). ``'not enough
    pairs'`` when there is no interval (fewer than 2 valid pairs)."""
    low, high = float(result['ci_low']), float(result['ci_high'])
    if math.isnan(low) or math.isnan(high):
        return NOT_ENOUGH
    if low > 0:
        return HELPS if higher_is_better else HURTS
    if high < 0:
        return HURTS if higher_is_better else HELPS
    return NO_EFFECT


def paired_difference_per_class(
        a: Union[np.ndarray, Sequence[Sequence[float]]],
        b: Union[np.ndarray, Sequence[Sequence[float]]],
        class_names: Optional[Sequence[str]] = None,
        confidence: float = 0.95) -> Dict[str, Dict[str, object]]:
    """:func:`paired_difference` for every column of two ``(pairs,
    classes)`` tables (e.g. per-class IoU of the method and of the twin,
    one row per seed pair), each with its :func:`verdict` under
    ``'verdict'``.

    Args:
        a, b: arrays of shape ``(n_pairs, n_classes)``, rows paired.
        class_names: one name per column (default: ``'0'``, ``'1'``, ...).
        confidence: see :func:`paired_difference`.

    Returns:
        ``{class name: result}`` in column order.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError('paired_difference_per_class needs two 2-D arrays '
                         '(pairs x classes) of the same shape, got shapes '
                         f'{a.shape} and {b.shape}')
    names: List[str] = ([str(i) for i in range(a.shape[1])]
                        if class_names is None else list(class_names))
    if len(names) != a.shape[1]:
        raise ValueError(f'{len(names)} class names for {a.shape[1]} '
                         'columns')
    out = {}
    for j, name in enumerate(names):
        result = paired_difference(a[:, j], b[:, j], confidence)
        result['verdict'] = verdict(result)
        out[name] = result
    return out
