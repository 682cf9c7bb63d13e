# Copyright (c) mmfusion contributors. All rights reserved.
"""Fixtures of the evaluation tests: the official SeAFusion results on
``msrs_mini/test`` and the de facto evaluator's per-image values."""
import json
import os.path as osp

import numpy as np
import pytest


@pytest.fixture(scope='session')
def seafusion_reference(seafusion_ref, msrs_mini):
    """``(names, values, dirs)``: image names, the evaluator's per-image
    values and the folders of the fused / IR / VIS images (all 39 results
    of ``../shared``, or the 4 bundled ones of ``tests/data/seafusion_ref``:
    see ``tests/conftest.py``)."""
    with open(osp.join(seafusion_ref, 'metrics_msrs_mini_test.json')) as f:
        ref = json.load(f)
    dirs = dict(
        fused=osp.join(seafusion_ref, 'fused'),
        ir=osp.join(msrs_mini, 'test', 'ir'),
        vis=osp.join(msrs_mini, 'test', 'vi'))
    return sorted(ref['per_image']), ref, dirs


@pytest.fixture(scope='session')
def seafusion_gray(seafusion_reference):
    """The (fused, IR, VIS) gray stacks ``(N, 480, 640)`` of every reference
    image (N = 39 shared, 4 bundled) read as the evaluator reads them."""
    from mmfusion.evaluation.functional import read_gray
    names, _, dirs = seafusion_reference
    return tuple(
        np.stack([read_gray(osp.join(dirs[k], n + '.png')) for n in names])
        for k in ('fused', 'ir', 'vis'))
