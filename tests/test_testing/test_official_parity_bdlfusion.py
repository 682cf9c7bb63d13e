# Copyright (c) mmfusion contributors. All rights reserved.
"""mmfusion's BDLFusion iteration against figures of the official code's.

``tests/data/parity/bdlfusion.json`` holds fingerprints (sums, norms, seeded
samples) of every quantity of one iteration of the official BDLFusion
training loop (LiuZhu-CV/BDLFusion ``train.py`` + ``architect_average2.py``,
driven by ``mmfusion.testing.parity.bdlfusion.official_step``), written by::

    python tools/analysis_tools/official_parity.py --method bdlfusion \\
        --official <checkout> \\
        --write-reference tests/data/parity/bdlfusion.json

Here mmfusion's iteration alone runs (seeded weights, windows of a bundled
MSRS pair, the shared task network) and must match them to 1e-6 relative;
no official code is needed.
"""

import pytest
import torch

from mmfusion.testing.parity import bdlfusion

# mmfusion's iteration takes ~25 s of CPU (float64, DRDB net at 2x64x96)
pytestmark = pytest.mark.slow

#: the method whose reference (tests/data/parity/bdlfusion.json) the fixtures
#: of conftest.py read
PARITY = bdlfusion
#: the followers' lr (and the hypergradient's eta) at the replayed iteration
ETA = bdlfusion.official_lr()


def test_every_quantity_matches_the_official_step(parity, step):
    parity.assert_all_match(step)


def test_the_update_is_the_mean_of_the_hypergradients(step):
    """What the official code computes (its random weights act on aliased
    gradients): the leader's update is (h_D + h_T) / 2."""
    assert torch.allclose(
        step['upper.agg_weights'],
        torch.tensor([0.5, 0.5], dtype=torch.float64),
        rtol=0,
        atol=1e-9)


@pytest.mark.parametrize(
    'quantity, change',
    [
        ('upper.hypergrad_task', lambda t: -t),  # sign of a hypergradient
        ('upper.update', lambda t: t * 1.01),
        ('lower.loss_task', lambda t: t * 1.001),  # weight of a loss term
        ('lower.disc_momentum', lambda t: t * (1 + 1e-5)),
    ])
def test_a_changed_quantity_fails(parity, step, quantity, change):
    parity.assert_change_caught(step, quantity, change)


@pytest.mark.parametrize(
    'model_options, broken',
    [
        # the task objective's adversarial term weighted 0.02 instead of 0.01
        (dict(adv_weights=dict(task=0.02)), 'lower.loss_task'),
        # the implicit term taken with the opposite sign (eta -> -eta)
        (dict(eta=-ETA), 'upper.hypergrad_disc'),
        # the paper's random weights as written instead of the mean
        (dict(aggregation='random'), 'upper.update'),
    ])
def test_a_changed_recipe_fails(parity, model_options, broken):
    """Real deviations of the algorithm (not of the figures) are caught."""
    parity.assert_recipe_caught(model_options, broken, threshold=1e-6)
