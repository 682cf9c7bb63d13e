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

import pytest
import torch

from mmfusion.testing.parity import tdfusion

#: the method whose reference (tests/data/parity/tdfusion.json) the fixtures
#: of conftest.py read
PARITY = tdfusion


@pytest.fixture(scope='module', autouse=True)
def one_thread():
    """The step's tensors are tiny: on a loaded machine, OpenMP's thread
    hand-offs made it 30x slower with 2 threads than with 1."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_every_quantity_matches_the_official_step(parity, step):
    parity.assert_all_match(step)


@pytest.mark.parametrize(
    'quantity, change',
    [
        ('meta.hypergrad', lambda t: -t),  # sign of the hypergradient
        ('meta.loss_grad', lambda t: t * 1.5),  # weight of a loss term
        ('fusion.task_exp_avg_sq', lambda t: t * (1 + 1e-5)),
        ('meta.weights', lambda t: t.flip(1)),  # IR/VIS weights exchanged
    ])
def test_a_changed_quantity_fails(parity, step, quantity, change):
    parity.assert_change_caught(step, quantity, change)


@pytest.mark.slow
@pytest.mark.parametrize(
    'model_options, broken',
    [
        # the virtual step taken uphill: the hypergradient changes sign
        (dict(inner_lr=-1e-4), 'meta.hypergrad'),
        # the gradient term of the fusion loss weighted 1.5 instead of 1
        (dict(fusion_loss=dict(grad_weight=1.5)), 'meta.loss_grad'),
    ])
def test_a_changed_recipe_fails(parity, model_options, broken):
    """Real deviations of the algorithm (not of the figures) are caught."""
    parity.assert_recipe_caught(model_options, broken, threshold=1e-3)
