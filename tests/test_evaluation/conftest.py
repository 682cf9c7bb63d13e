# Copyright (c) mmfusion contributors. All rights reserved.
"""Fixtures of the evaluation tests: the official SeAFusion results on
``msrs_mini/test`` and the de facto evaluator's per-image values."""
import json
import os.path as osp

import numpy as np
import pytest

SHARED = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), '..',
    'shared')
SEAFUSION = osp.join(SHARED, 'reference', 'seafusion')
MSRS_TEST = osp.join(SHARED, 'testdata', 'msrs_mini', 'test')


@pytest.fixture(scope='session')
def seafusion_reference():
    """``(names, values, dirs)``: image names, the evaluator's per-image
    values and the folders of the fused / IR / VIS images."""
    path = osp.join(SEAFUSION, 'metrics_msrs_mini_test.json')
    if not osp.isfile(path) or not osp.isdir(MSRS_TEST):
        pytest.fail(f'shared reference data not found at {SEAFUSION}')
    with open(path) as f:
        ref = json.load(f)
    dirs = dict(
        fused=osp.join(SEAFUSION, 'fused'),
        ir=osp.join(MSRS_TEST, 'ir'),
        vis=osp.join(MSRS_TEST, 'vi'))
    return sorted(ref['per_image']), ref, dirs


@pytest.fixture(scope='session')
def seafusion_gray(seafusion_reference):
    """All 39 (fused, IR, VIS) gray stacks ``(39, 480, 640)`` read as the
    evaluator reads them."""
    from mmfusion.evaluation.functional import read_gray
    names, _, dirs = seafusion_reference
    return tuple(
        np.stack([read_gray(osp.join(dirs[k], n + '.png')) for n in names])
        for k in ('fused', 'ir', 'vis'))
