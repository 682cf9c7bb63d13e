# Copyright (c) mmfusion contributors. All rights reserved.
"""The data-root resolver of ``tests/conftest.py``: the shared set when
present, the bundled copy otherwise, a hard failure when
``MMFUSION_REQUIRE_SHARED`` is set and the shared set is missing."""
import importlib.util
import os
import os.path as osp
import subprocess
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(scope='module')
def roots():
    # a private copy of the module: its functions only, no hooks registered
    spec = importlib.util.spec_from_file_location(
        'mmfusion_tests_conftest', osp.join(REPO, 'tests', 'conftest.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def shared(tmp_path):
    """A fake ``../shared`` with every entry, and an empty one."""
    full = tmp_path / 'shared'
    for sub in ('testdata/msrs_mini/train/ir', 'testdata/roadscene/ir',
                'testdata/tno/ir', 'reference/seafusion/fused',
                'reference/tardal/weights'):
        os.makedirs(full / sub)
    (full / 'reference/seafusion/seafusion_official.pth').write_bytes(b'')
    return str(full), str(tmp_path / 'nothing_here')


def test_every_bundled_copy_exists(roots):
    for name, (_, in_repo) in roots.DATA_SOURCES.items():
        if in_repo is not None:
            assert osp.isdir(osp.join(REPO, in_repo)), name
    # the bundled pair counts are the ones on disk
    for name, (_, pairs) in roots.PAIRS.items():
        found = roots.resolve_test_data(
            name, shared_root='/nonexistent', require_shared=False)
        assert not found.shared and found.pairs == pairs
        for split, n in (pairs.items()
                         if isinstance(pairs, dict) else [('', pairs)]):
            for modality in ('ir', 'vi'):
                assert len(os.listdir(osp.join(found.path, split,
                                               modality))) == n


@pytest.mark.parametrize('require', [False, True])
def test_shared_wins_where_present(roots, shared, require):
    full, _ = shared
    for name, (in_shared, _) in roots.DATA_SOURCES.items():
        found = roots.resolve_test_data(
            name, shared_root=full, require_shared=require)
        assert found == (name, osp.join(full, in_shared), True)
    assert roots.resolve_test_data('tno', shared_root=full).pairs == 25


def test_bundled_copy_without_shared(roots, shared):
    _, missing = shared
    found = roots.resolve_test_data(
        'msrs_mini', shared_root=missing, require_shared=False)
    assert found == ('msrs_mini', osp.join(REPO, 'data', 'msrs_demo'), False)
    assert found.pairs == dict(train=8, test=4)
    found = roots.resolve_test_data(
        'seafusion',
        shared_root=missing,
        repo_root='/repo',
        require_shared=False)
    assert found.path == '/repo/tests/data/seafusion_ref'
    # shared only: nothing to fall back to
    assert roots.resolve_test_data(
        'seafusion_weights', shared_root=missing, require_shared=False) is None


def test_required_shared_missing_is_an_error(roots, shared, monkeypatch):
    _, missing = shared
    for name in roots.DATA_SOURCES:
        with pytest.raises(roots.SharedDataMissing, match=name):
            roots.resolve_test_data(
                name, shared_root=missing, require_shared=True)
    # the default comes from the environment
    monkeypatch.setenv('MMFUSION_REQUIRE_SHARED', '1')
    assert roots.shared_required()
    with pytest.raises(
            roots.SharedDataMissing, match='MMFUSION_REQUIRE_SHARED is set'):
        roots.resolve_test_data('msrs_mini', shared_root=missing)
    for off in ('', '0'):
        monkeypatch.setenv('MMFUSION_REQUIRE_SHARED', off)
        assert not roots.shared_required()
        assert not roots.resolve_test_data(
            'msrs_mini', shared_root=missing).shared
    monkeypatch.delenv('MMFUSION_REQUIRE_SHARED')
    assert not roots.shared_required()


def test_required_shared_missing_stops_the_run(tmp_path):
    """End to end: a copy of the test tree whose ``../shared`` is missing;
    with the variable set pytest stops at start-up, a ``shared_data`` test
    fails instead of skipping; without it the test is skipped."""
    tests = tmp_path / 'repo' / 'tests'
    tests.mkdir(parents=True)
    with open(osp.join(REPO, 'tests', 'conftest.py')) as f:
        (tests / 'conftest.py').write_text(f.read())
    (tests / 'test_x.py').write_text('import pytest\n\n\n'
                                     '@pytest.mark.shared_data\n'
                                     'def test_needs_shared():\n'
                                     '    pass\n')
    assert not (tmp_path / 'shared').exists()

    def run(require):
        env = dict(os.environ, OMP_NUM_THREADS='1')
        env.pop('MMFUSION_REQUIRE_SHARED', None)
        if require:
            env['MMFUSION_REQUIRE_SHARED'] = '1'
        return subprocess.run([
            sys.executable, '-m', 'pytest', '-q', '-rs', '-p',
            'no:cacheprovider',
            str(tests)
        ],
                              cwd=str(tmp_path / 'repo'),
                              env=env,
                              capture_output=True,
                              text=True,
                              timeout=300)

    free = run(False)
    assert free.returncode == 0, free.stdout + free.stderr
    assert '1 skipped' in free.stdout
    assert 'needs the shared test data' in free.stdout
    strict = run(True)
    assert strict.returncode != 0
    assert 'MMFUSION_REQUIRE_SHARED is set but the shared test data is ' \
        'missing' in strict.stdout + strict.stderr
