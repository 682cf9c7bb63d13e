# Copyright (c) mmfusion contributors. All rights reserved.
"""Where the tests find their data: the one place that resolves data roots.

Every data set the tests read has a compact copy in the repository (see
``tests/data/README.md``), so the suite passes on a fresh clone with nothing
beside it. Where the larger shared set ``../shared`` (beside the checkout) is
present, it is used instead and extends the tests (all 39 SeAFusion results,
the released SeAFusion weights, ...).

``MMFUSION_REQUIRE_SHARED=1`` (set by ``.ci/run``) makes a missing
``../shared`` a hard failure: the run stops at start-up and every data
look-up fails, so CI can never silently fall back or skip.
Tests that only make sense on the shared set are marked
``@pytest.mark.shared_data``: skipped with the reason on a bare clone,
failing under ``MMFUSION_REQUIRE_SHARED=1``.
"""
import os
import os.path as osp
from typing import NamedTuple, Optional

import pytest


def _share_the_cores() -> None:
    """Under pytest-xdist, give each worker its share of the cores (and the
    processes its tests start, through the environment): N workers each
    running torch/OpenMP with all cores oversubscribe the machine, which on
    2 cores made single tests up to 20x slower than alone. An explicit
    ``OMP_NUM_THREADS`` is respected."""
    workers = os.environ.get('PYTEST_XDIST_WORKER_COUNT')
    if not workers or 'OMP_NUM_THREADS' in os.environ:
        return
    threads = str(max(1, (os.cpu_count() or 1) // int(workers)))
    for var in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS'):
        os.environ[var] = threads
    import torch
    torch.set_num_threads(int(threads))


_share_the_cores()

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
SHARED = osp.join(osp.dirname(REPO), 'shared')
REQUIRE_SHARED_ENV = 'MMFUSION_REQUIRE_SHARED'

# name: (path in ../shared, bundled copy in the repository or None)
DATA_SOURCES = {
    # MSRS in the official layout: 161 train / 39 test pairs shared;
    # 8 / 4 bundled (the demo data, a subset of the same pairs)
    'msrs_mini': ('testdata/msrs_mini', 'data/msrs_demo'),
    'roadscene': ('testdata/roadscene', 'tests/data/roadscene_mini'),
    'tno': ('testdata/tno', 'tests/data/tno_mini'),
    # released SeAFusion results on msrs_mini/test (39 shared, the 4 of
    # data/msrs_demo/test bundled) and the evaluator's per-image values
    'seafusion': ('reference/seafusion', 'tests/data/seafusion_ref'),
    # the released weights: not bundled (upstream states no licence)
    'seafusion_weights': ('reference/seafusion/seafusion_official.pth', None),
    # TarDAL's released weights and the official test path's outputs on
    # msrs_mini/test: not bundled (no licence stated where the weights are);
    # tests/data/tardal holds an official-path check with a random net
    'tardal': ('reference/tardal', None),
}

# the number of pairs (per split) of each copy, for the tests to check
# against: name: (shared, bundled)
PAIRS = {
    'msrs_mini': (dict(train=161, test=39), dict(train=8, test=4)),
    'roadscene': (221, 3),
    'tno': (25, 3),
}


class DataRoot(NamedTuple):
    name: str
    path: str
    shared: bool  # True: the ../shared copy; False: the bundled one

    @property
    def pairs(self):
        """Pairs in the copy (a dict per split for split data sets)."""
        return PAIRS[self.name][0 if self.shared else 1]


class SharedDataMissing(RuntimeError):
    """``MMFUSION_REQUIRE_SHARED`` is set but the shared data is missing."""


def shared_required(environ=None) -> bool:
    value = (os.environ if environ is None else environ).get(
        REQUIRE_SHARED_ENV, '')
    return value.strip() not in ('', '0')


def resolve_test_data(
        name: str,
        shared_root: str = SHARED,
        repo_root: str = REPO,
        require_shared: Optional[bool] = None) -> Optional[DataRoot]:
    """The data set ``name`` of :data:`DATA_SOURCES`: the shared copy when
    present, else the bundled one (``None`` when there is none).

    Raises:
        SharedDataMissing: the shared copy is missing and ``require_shared``
            (default: ``$MMFUSION_REQUIRE_SHARED``) is set.
    """
    if require_shared is None:
        require_shared = shared_required()
    in_shared, in_repo = DATA_SOURCES[name]
    path = osp.join(shared_root, in_shared)
    if osp.exists(path):
        return DataRoot(name, path, True)
    if require_shared:
        raise SharedDataMissing(
            f'shared test data {name!r} not found at {path} and '
            f'{REQUIRE_SHARED_ENV} is set')
    if in_repo is None:
        return None
    return DataRoot(name, osp.join(repo_root, in_repo), False)


def _resolve_or_skip(name: str, optional: bool = False) -> Optional[DataRoot]:
    try:
        found = resolve_test_data(name)
    except SharedDataMissing as e:
        pytest.fail(str(e))
    if found is None and not optional:
        pytest.skip(f'{name!r} is only in the shared test data '
                    f'({osp.join(SHARED, DATA_SOURCES[name][0])})')
    return found


@pytest.fixture(scope='session')
def find_test_data():
    """``find_test_data(name, optional=False)`` -> :class:`DataRoot` of a
    :data:`DATA_SOURCES` entry. When only the shared set has it and it is
    missing: skips (``optional``: returns ``None``); under
    ``MMFUSION_REQUIRE_SHARED`` fails."""
    return _resolve_or_skip


@pytest.fixture(scope='session')
def msrs_mini():
    """Root of the MSRS pairs in the official layout (``{train,test}/{ir,vi,
    Segmentation_labels,Detection_labels}``): ``../shared/testdata/
    msrs_mini`` or the bundled ``data/msrs_demo``."""
    return _resolve_or_skip('msrs_mini').path


@pytest.fixture(scope='session')
def msrs_mini_pairs():
    """``dict(train=..., test=...)``: the pairs of :func:`msrs_mini`."""
    return _resolve_or_skip('msrs_mini').pairs


@pytest.fixture(scope='session')
def seafusion_ref():
    """Folder of the released SeAFusion results: ``fused/*.png`` and
    ``metrics_msrs_mini_test.json`` (shared: also ``raw_y/`` and the
    weights)."""
    return _resolve_or_skip('seafusion').path


@pytest.fixture(scope='session')
def repo_root():
    return REPO


def pytest_configure(config):
    config.addinivalue_line(
        'markers', 'slow(minutes=N): a longer check kept small enough for '
        'CI (e.g. a handful of zoo task families per strategy); those '
        'with minutes run first, longest first')
    config.addinivalue_line(
        'markers', 'shared_data: needs the shared test data (../shared); '
        f'skipped without it, failing when {REQUIRE_SHARED_ENV} is set')
    if shared_required() and not osp.isdir(SHARED):
        raise pytest.UsageError(
            f'{REQUIRE_SHARED_ENV} is set but the shared test data is '
            f'missing: {SHARED} does not exist')


def pytest_runtest_setup(item):
    if item.get_closest_marker('shared_data') is None:
        return
    if not osp.isdir(SHARED):
        if shared_required():
            pytest.fail(f'{SHARED} not found and {REQUIRE_SHARED_ENV} is '
                        'set')
        pytest.skip(f'needs the shared test data at {SHARED}')


@pytest.fixture(autouse=True)
def _fresh_message_hub(request):
    """Each test starts with its own current MessageHub: a Runner built by
    an earlier test leaves its ``iter``/``max_iters`` (and the phase) in the
    current instance, and a ``train_step`` called outside a Runner would
    otherwise read them (e.g. as the last iteration of a finished run)."""
    from mmengine.logging import MessageHub
    MessageHub.get_instance(f'mmfusion-test-{request.node.nodeid}')


def pytest_collection_modifyitems(config, items):
    """The longest tests first, so that under ``pytest -n 2`` they do not
    start last and keep one worker busy after the other has finished:
    tests marked ``slow(minutes=N)`` by decreasing ``N``, then the other
    slow tests, then the rest, each group in collection order."""

    def rank(item):
        mark = item.get_closest_marker('slow')
        if mark is None:
            return (2, 0)
        return (0, -mark.kwargs['minutes']) if 'minutes' in mark.kwargs \
            else (1, 0)

    items.sort(key=rank)  # stable: collection order within a group
