# Copyright (c) mmfusion contributors. All rights reserved.
"""map_fusion_metrics, the one batching implementation of FusionMetric and
folder evaluation: the values of compute_fusion_metrics bit for bit, in the
order of the items, on 1 and 2 threads and on the batched (GPU) path; load
errors passed through; torch's thread count restored."""
import pytest
import torch

from mmfusion.evaluation.functional import (DE_FACTO_METRICS,
                                            compute_fusion_metrics,
                                            map_fusion_metrics)
from mmfusion.evaluation.functional.batching import _map_batched

METRICS = DE_FACTO_METRICS + ('Nabf', )


@pytest.fixture(scope='module')
def images(seafusion_gray):
    """Three real pairs and one 240x320 crop (another size)."""
    f, a, b = (x[:3] for x in seafusion_gray)
    return [(f[i], a[i], b[i]) for i in range(3)] + \
        [(f[0, :240, :320], a[0, :240, :320], b[0, :240, :320])]


@pytest.fixture(scope='module')
def expected(images):
    out = []
    for f, a, b in images:
        values = compute_fusion_metrics(f, a, b, METRICS)
        out.append({m: float(values[m][0]) for m in METRICS})
    return out


def _load(images):
    """Item i -> [image i, image (i + 1) % n] (two entries, as a pair with
    two methods); item 'bad' raises, item -1 passes an error through."""

    def load(item):
        if item == 'bad':
            raise ValueError('cannot read image bad.png')
        if item == -1:
            return [images[0], KeyError('no fused image')]
        return [images[item], images[(item + 1) % len(images)]]

    return load


@pytest.mark.parametrize('workers', [1, 2])
def test_cpu_values_order_and_errors(images, expected, workers):
    threads = torch.get_num_threads()
    items = [0, 1, 'bad', 2, -1, 3]
    got = list(
        map_fusion_metrics(_load(images), items, METRICS, num_workers=workers))
    assert [item for item, _ in got] == items
    assert torch.get_num_threads() == threads
    n = len(images)
    for item, outcome in got:
        if item == 'bad':
            assert isinstance(outcome, ValueError)
            assert 'bad.png' in str(outcome)
        elif item == -1:
            assert outcome[0] == expected[0]
            assert isinstance(outcome[1], KeyError)
        else:  # bit for bit the values of compute_fusion_metrics
            assert outcome == [expected[item], expected[(item + 1) % n]]


def test_batched_path_stacks_by_size(images, expected):
    """The GPU path (here on CPU, where compute_fusion_metrics measures a
    stack image by image): images of one size measured together, the same
    values, in order."""
    items = [0, 3, 'bad', 1, -1, 2]
    got = list(
        _map_batched(
            _load(images),
            items,
            METRICS,
            'cpu',
            num_workers=2,
            batch_size=4,
            options={}))
    assert [item for item, _ in got] == items
    n = len(images)
    for item, outcome in got:
        if item == 'bad':
            assert isinstance(outcome, ValueError)
        elif item == -1:
            assert outcome[0] == expected[0]
            assert isinstance(outcome[1], KeyError)
        else:
            assert outcome == [expected[item], expected[(item + 1) % n]]


def test_reference_free_and_stopping_early(images, expected):
    load = _load(images)

    def fused_only(item):
        return [(e[0], None, None) for e in load(item)]

    got = dict(
        map_fusion_metrics(fused_only, [1], ['EN', 'SD'], num_workers=2))
    assert got[1][0] == {m: expected[1][m] for m in ('EN', 'SD')}
    # a consumer that stops early (an error raised on the first item) leaves
    # torch's thread count as it was
    threads = torch.get_num_threads()
    with pytest.raises(RuntimeError):
        for _ in map_fusion_metrics(
                load, list(range(4)) * 3, METRICS, num_workers=2):
            raise RuntimeError('stop')
    assert torch.get_num_threads() == threads
