# Copyright (c) mmfusion contributors. All rights reserved.
"""mmfusion's SeAFusion steps against figures of the official code's.

``tests/data/parity/seafusion.json`` holds fingerprints (sums, norms, seeded
samples) of every quantity of one segmenter step and one fusion step of the
official SeAFusion training code (Linfeng-Tang/SeAFusion ``train.py``,
driven by ``mmfusion.testing.parity.seafusion.official_step``), written by::

    python tools/analysis_tools/official_parity.py --method seafusion \\
        --official <checkout> \\
        --write-reference tests/data/parity/seafusion.json

Here mmfusion's steps alone run (seeded weights, windows of a bundled MSRS
pair, the shared segmenter) and must match them to 1e-6 relative; no
official code is needed.
"""

import pytest
import torch

from mmfusion.testing.parity import seafusion

#: the method whose reference (tests/data/parity/seafusion.json) the fixtures
#: of conftest.py read
PARITY = seafusion


def test_every_quantity_matches_the_official_step(parity, step):
    parity.assert_all_match(step)


def test_no_decay_of_norm_and_bias_parameters(step):
    """The released optimiser (its ``get_params`` groups): weight decay on
    conv weights only; the heads at 10x lr."""
    wd = step['task.weight_decay'].unique()
    lr = step['task.lr'].unique()
    assert torch.allclose(wd, torch.tensor([0., 5e-4], dtype=wd.dtype))
    assert torch.allclose(lr, torch.tensor([1e-5, 1e-4], dtype=lr.dtype))


@pytest.mark.parametrize(
    'quantity, change',
    [
        ('fusion.grad', lambda t: -t),  # sign of the gradient
        ('fusion.loss_semantic', lambda t: t * 1.001),
        ('task.loss', lambda t: t * 1.001),  # weight of a loss term
        ('task.momentum', lambda t: t * (1 + 1e-5)),
    ])
def test_a_changed_quantity_fails(parity, step, quantity, change):
    parity.assert_change_caught(step, quantity, change)


@pytest.mark.slow
@pytest.mark.parametrize(
    'model_options, broken',
    [
        # the auxiliary head weighted 0.75 in the semantic loss, not 0.1
        (dict(semantic_loss_scale=None), 'fusion.loss_semantic'),
        # beta_r = r + 1 instead of r
        (dict(semantic_weights=[1., 2., 3., 4.]), 'fusion.loss_total'),
    ])
def test_a_changed_recipe_fails(parity, model_options, broken):
    """Real deviations of the algorithm (not of the figures) are caught."""
    parity.assert_recipe_caught(model_options, broken, threshold=1e-6)
