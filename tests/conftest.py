# Copyright (c) mmfusion contributors. All rights reserved.
import os.path as osp

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
SHARED = osp.join(osp.dirname(REPO), 'shared')
TESTDATA = osp.join(SHARED, 'testdata')
MSRS_MINI = osp.join(TESTDATA, 'msrs_mini')
REFERENCE = osp.join(SHARED, 'reference')


@pytest.fixture(scope='session')
def msrs_mini():
    # the shared data is part of the test environment (CI has it beside the
    # checkout): a missing folder is an error, not a reason to skip
    if not osp.isdir(MSRS_MINI):
        pytest.fail(f'shared test data not found at {MSRS_MINI}')
    return MSRS_MINI


@pytest.fixture(scope='session')
def repo_root():
    return REPO


def pytest_configure(config):
    config.addinivalue_line(
        'markers', 'slow: a longer check kept small enough for CI (e.g. a '
        'handful of zoo task families per strategy)')
