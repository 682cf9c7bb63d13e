# Copyright (c) mmfusion contributors. All rights reserved.
"""mmfusion's TDFusion step against figures of the official code's step.

``tests/data/parity/tdfusion.json`` holds fingerprints (sums, norms, seeded
samples) of every quantity of one step of the official TDFusion training
loop (HaowenBai/TDFusion ``train.py``, driven by
``mmfusion.testing.parity.tdfusion.official_step``), written by::

    python tools/analysis_tools/official_parity.py --method tdfusion \\
        --official <checkout> --preset small \\
        --write-reference tests/data/parity/tdfusion.json

Here mmfusion's step alone runs (seeded weights, the bundled MSRS pairs, the
shared task network) and must match them to 1e-6 relative; no official code
is needed.
"""
from pathlib import Path

import pytest
import torch

from mmfusion.testing.parity import common, tdfusion

REFERENCE = Path(__file__).parents[1] / 'data' / 'parity' / 'tdfusion.json'


@pytest.fixture(scope='module')
def reference():
    meta, fingerprints = common.load_reference(str(REFERENCE))
    return meta['options'], fingerprints


@pytest.fixture(scope='module', autouse=True)
def one_thread():
    """The step's tensors are tiny: on a loaded machine, OpenMP's thread
    hand-offs made it 30x slower with 2 threads than with 1."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def step(reference):
    options, _ = reference
    return tdfusion.mmfusion_step(**options)


def _report(errors):
    return common.format_report(errors, common.DEFAULT_TOL,
                                tdfusion.QUANTITIES)


def test_every_quantity_matches_the_official_step(reference, step):
    _, fingerprints = reference
    assert set(fingerprints) == set(tdfusion.QUANTITIES)
    report, ok = _report(common.compare_fingerprints(step, fingerprints))
    assert ok, report


@pytest.mark.parametrize(
    'quantity, change',
    [
        ('meta.hypergrad', lambda t: -t),  # sign of the hypergradient
        ('meta.loss_grad', lambda t: t * 1.5),  # weight of a loss term
        ('fusion.task_exp_avg_sq', lambda t: t * (1 + 1e-5)),
        ('meta.weights', lambda t: t.flip(1)),  # IR/VIS weights exchanged
    ])
def test_a_changed_quantity_fails(reference, step, quantity, change):
    _, fingerprints = reference
    changed = dict(step)
    changed[quantity] = change(step[quantity])
    errors = common.compare_fingerprints(changed, fingerprints)
    assert errors[quantity] > common.DEFAULT_TOL
    assert all(e <= common.DEFAULT_TOL for k, e in errors.items()
               if k != quantity)


@pytest.mark.slow
@pytest.mark.parametrize(
    'model_options, broken',
    [
        # the virtual step taken uphill: the hypergradient changes sign
        (dict(inner_lr=-1e-4), 'meta.hypergrad'),
        # the gradient term of the fusion loss weighted 1.5 instead of 1
        (dict(fusion_loss=dict(grad_weight=1.5)), 'meta.loss_grad'),
    ])
def test_a_changed_recipe_fails(reference, model_options, broken):
    """Real deviations of the algorithm (not of the figures) are caught."""
    options, fingerprints = reference
    ours = tdfusion.mmfusion_step(**options, model_options=model_options)
    errors = common.compare_fingerprints(ours, fingerprints)
    assert errors[broken] > 1e-3, _report(errors)[0]
