# Copyright (c) mmfusion contributors. All rights reserved.
"""Scaffolding of the official-parity tests (``test_official_parity_*.py``).

Such a test module names its method module of
:mod:`mmfusion.testing.parity` as ``PARITY`` (e.g. ``PARITY = tdfusion``).
The fixtures read that method's stored reference
``tests/data/parity/<method>.json`` (fingerprints of the official step and
the options it ran with), run mmfusion's step once per module, and give
the checks every method's test makes (:class:`ParityChecks`).
"""
from pathlib import Path

import pytest
import torch

from mmfusion.testing.parity import common

PARITY_DATA = Path(__file__).parents[1] / 'data' / 'parity'


class ParityChecks:
    """The checks of mmfusion's step against a method's stored reference
    (tolerance :data:`~mmfusion.testing.parity.common.DEFAULT_TOL`)."""

    def __init__(self, method, options: dict, fingerprints: dict):
        self.method = method
        self.options = options
        self.fingerprints = fingerprints

    def report(self, errors):
        """``(report, ok)`` of the relative errors ``errors``."""
        return common.format_report(errors, common.DEFAULT_TOL,
                                    self.method.QUANTITIES)

    def errors(self, ours):
        return common.compare_fingerprints(ours, self.fingerprints)

    def assert_all_match(self, ours):
        """The reference holds every quantity and each of ``ours`` matches
        it."""
        assert set(self.fingerprints) == set(self.method.QUANTITIES)
        report, ok = self.report(self.errors(ours))
        assert ok, report

    def assert_change_caught(self, ours, quantity, change):
        """``change`` applied to ``ours[quantity]`` fails that quantity and
        no other."""
        changed = dict(ours)
        changed[quantity] = change(ours[quantity])
        errors = self.errors(changed)
        assert errors[quantity] > common.DEFAULT_TOL
        assert all(e <= common.DEFAULT_TOL for k, e in errors.items()
                   if k != quantity)

    def assert_recipe_caught(self, model_options, broken, threshold):
        """mmfusion's step with ``model_options`` merged into the model
        (a real deviation of the algorithm) misses the reference's
        ``broken`` by more than ``threshold``."""
        ours = self.method.mmfusion_step(
            **self.options, model_options=model_options)
        errors = self.errors(ours)
        assert errors[broken] > threshold, self.report(errors)[0]


@pytest.fixture(scope='module')
def parity(request):
    """:class:`ParityChecks` of the test module's ``PARITY`` method and its
    stored reference."""
    method = request.module.PARITY
    name = method.__name__.rsplit('.', 1)[-1]
    meta, fingerprints = common.load_reference(
        str(PARITY_DATA / f'{name}.json'))
    return ParityChecks(method, meta['options'], fingerprints)


@pytest.fixture(scope='module')
def step(parity):
    """mmfusion's step with the reference's options (the global random
    state seeded first), once per test module."""
    torch.manual_seed(0)
    return parity.method.mmfusion_step(**parity.options)
