# Copyright (c) mmfusion contributors. All rights reserved.
"""mmfusion's TarDAL iteration against figures of the official code's.

``tests/data/parity/tardal.json`` holds fingerprints (sums, norms, seeded
samples) of every quantity of one iteration of the official TarDAL v1.0
training loop (JinyuanLiu-CV/TarDAL ``scripts/train_fd.py`` +
``pipeline/fuse.py``, its YOLOv5 detector stubbed: see
``mmfusion.testing.parity.tardal``), written by::

    PYTHONPATH=.:<kornia 0.7.0> \\
        python tools/analysis_tools/official_parity.py \\
        --method tardal --official <checkout> \\
        --write-reference tests/data/parity/tardal.json

Here mmfusion's iteration alone runs and must match them to 1e-6 relative;
no official code is needed.
"""
import pytest

from mmfusion.testing.parity import tardal

# mmfusion's iteration takes ~30 s of CPU (float64, the published generator
# on 2 x 64 x 64, two 64 x 64 critics, a tiny RetinaNet)
pytestmark = pytest.mark.slow

PARITY = tardal


def test_every_quantity_matches_the_official_step(parity, step):
    parity.assert_all_match(step)


@pytest.mark.parametrize('quantity, change', [
    ('fusion.grad', lambda t: t * 1.001),
    ('target.loss', lambda t: -t),
    ('detail.params', lambda t: t * (1 + 1e-5)),
    ('mask', lambda t: t.flip(-1)),
])
def test_a_changed_quantity_fails(parity, step, quantity, change):
    parity.assert_change_caught(step, quantity, change)


@pytest.mark.parametrize(
    'model_options, broken',
    [
        # the MS-SSIM + L1 term counted once per scale (the formula as
        # written) instead of the released kornia's three times
        (dict(fusion_loss=dict(ms_ssim=dict(copies=1))), 'fusion.loss'),
        # the target term weighted 0.6 instead of 0.5
        (dict(target_weight=0.6), 'fusion.grad'),
        # WGAN-div with p = 2 instead of 6
        (dict(div_p=2.), 'target.grad'),
        # the detail critic on masked gradients (pre-v1.0 d_mask)
        (dict(detail_mask=True), 'detail.loss'),
    ])
def test_a_changed_recipe_fails(parity, model_options, broken):
    """Real deviations of the algorithm (not of the figures) are caught."""
    parity.assert_recipe_caught(model_options, broken, threshold=1e-6)
