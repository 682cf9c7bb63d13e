# Copyright (c) mmfusion contributors. All rights reserved.
import math

import numpy as np
import pytest

from mmfusion.evaluation.functional import (paired_difference,
                                            paired_difference_per_class,
                                            t_quantile, verdict)
from mmfusion.evaluation.functional.paired_stats import t_cdf

# two-sided 95 % critical values of Student's t (printed tables)
T_975 = {
    1: 12.706,
    2: 4.303,
    3: 3.182,
    4: 2.776,
    8: 2.306,
    10: 2.228,
    30: 2.042
}


@pytest.mark.parametrize('df,expected', sorted(T_975.items()))
def test_t_quantile_against_tables(df, expected):
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=5e-4)
    assert t_quantile(0.025, df) == pytest.approx(-expected, abs=5e-4)


def test_t_quantile_inverts_cdf_and_matches_scipy():
    for df in (1, 2, 3, 5, 7.5, 29, 200):
        for p in (0.6, 0.9, 0.95, 0.975, 0.995):
            assert t_cdf(t_quantile(p, df), df) == pytest.approx(p, abs=1e-12)
    # df 1 is the Cauchy distribution: tan(pi (p - 1/2))
    assert t_quantile(0.9, 1) == pytest.approx(math.tan(0.4 * math.pi))
    assert t_quantile(0.5, 3) == 0.0
    stats = pytest.importorskip('scipy.stats')
    for df in (1, 2, 4, 8, 13):
        for p in (0.9, 0.975, 0.999):
            assert t_quantile(p, df) == pytest.approx(
                stats.t.ppf(p, df), rel=1e-9)


def test_t_quantile_rejects_bad_arguments():
    with pytest.raises(ValueError, match='p must be'):
        t_quantile(1.0, 3)
    with pytest.raises(ValueError, match='degrees of freedom'):
        t_quantile(0.9, 0)


# a small synthetic table: mIoU of a method and of its twin over 5 seeds
TWIN = np.array([30.1, 31.4, 29.8, 30.9, 31.0])
NOISE = np.array([0.2, -0.3, 0.1, 0.25, -0.15])


def test_known_difference_is_found():
    method = TWIN + 2.0 + NOISE
    r = paired_difference(method, TWIN)
    d = 2.0 + NOISE
    assert r['n'] == 5 and r['dropped'] == 0
    assert r['mean'] == pytest.approx(d.mean())
    assert r['sd'] == pytest.approx(d.std(ddof=1))
    half = 2.776 * d.std(ddof=1) / math.sqrt(5)  # t_{0.975, 4}
    assert r['ci_low'] == pytest.approx(d.mean() - half, abs=1e-3)
    assert r['ci_high'] == pytest.approx(d.mean() + half, abs=1e-3)
    assert r['ci_low'] > 0
    assert r['diffs'] == pytest.approx(list(d))
    assert verdict(r) == 'helps'
    # the other way round it hurts; for a metric to minimise, swapped
    back = paired_difference(TWIN, method)
    assert back['ci_high'] < 0 and verdict(back) == 'hurts'
    assert verdict(r, higher_is_better=False) == 'hurts'


def test_zero_difference_gives_an_interval_containing_zero():
    r = paired_difference(TWIN + NOISE - NOISE.mean(), TWIN)
    assert r['mean'] == pytest.approx(0.0, abs=1e-12)
    assert r['ci_low'] < 0 < r['ci_high']
    assert verdict(r) == 'no effect detectable at this scale'
    # a real but small effect at too few seeds is not detected either
    r3 = paired_difference(TWIN[:3] + 0.1 + NOISE[:3], TWIN[:3])
    assert r3['ci_low'] < 0 < r3['ci_high']
    assert verdict(r3) == 'no effect detectable at this scale'


def test_confidence_level_widens_the_interval():
    method = TWIN + 1.0 + NOISE
    r90 = paired_difference(method, TWIN, confidence=0.90)
    r99 = paired_difference(method, TWIN, confidence=0.99)
    assert r99['ci_low'] < r90['ci_low'] < r90['ci_high'] < r99['ci_high']


def test_nan_pairs_are_dropped_and_too_few_pairs_give_no_interval():
    r = paired_difference([1.0, np.nan, 3.0, 4.0], [0.5, 1.0, np.nan, 3.0])
    assert r['n'] == 2 and r['dropped'] == 2
    assert r['diffs'] == [0.5, 1.0]
    one = paired_difference([1.0], [0.0])
    assert one['n'] == 1 and one['mean'] == 1.0
    assert math.isnan(one['ci_low']) and math.isnan(one['sd'])
    assert verdict(one) == 'not enough pairs'
    with pytest.raises(ValueError, match='same length'):
        paired_difference([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match='confidence'):
        paired_difference([1.0, 2.0], [1.0, 0.0], confidence=95)


def test_per_class_variant():
    # 4 seed pairs x 3 classes: car gains, person unchanged, bike absent
    # from the test split (NaN in every run)
    rng = np.random.default_rng(0)
    twin = rng.uniform(20, 40, size=(4, 3))
    method = twin.copy()
    method[:, 0] += 5.0 + np.array([0.3, -0.2, 0.1, -0.1])
    method[:, 1] += np.array([0.4, -0.4, 0.2, -0.2])
    twin[:, 2] = method[:, 2] = np.nan
    out = paired_difference_per_class(
        method, twin, class_names=['car', 'person', 'bike'])
    assert list(out) == ['car', 'person', 'bike']
    assert out['car']['verdict'] == 'helps'
    assert out['car']['mean'] == pytest.approx(5.025)
    assert out['person']['verdict'] == 'no effect detectable at this scale'
    assert out['bike']['n'] == 0 and out['bike']['verdict'] == \
        'not enough pairs'
    # each column is the 1-D paired difference of that column
    assert out['person']['ci_low'] == pytest.approx(
        paired_difference(method[:, 1], twin[:, 1])['ci_low'])
    with pytest.raises(ValueError, match='class names'):
        paired_difference_per_class(method, twin, class_names=['car'])
