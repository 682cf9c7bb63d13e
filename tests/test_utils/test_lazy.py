# Copyright (c) mmfusion contributors. All rights reserved.
"""mmfusion.utils.lazy: a package's names imported on first use."""
import importlib
import sys

import pytest

from mmfusion.utils.lazy import lazy_module_attrs

PACKAGE = 'lazy_pkg_for_test'


@pytest.fixture
def lazy_pkg(tmp_path, monkeypatch):
    """A package whose ``Heavy`` / ``helper`` live in ``_heavy``, which
    counts its imports, and are imported on first use."""
    pkg = tmp_path / PACKAGE
    pkg.mkdir()
    (pkg / '__init__.py').write_text(
        'from mmfusion.utils.lazy import lazy_module_attrs\n'
        'EAGER = 1\n'
        "_LAZY = {'Heavy': '_heavy', 'helper': '_heavy'}\n"
        '__getattr__, __dir__ = lazy_module_attrs(__name__, _LAZY)\n')
    (pkg / '_heavy.py').write_text(
        'import builtins\n'
        'builtins._lazy_pkg_imports = getattr(\n'
        "    builtins, '_lazy_pkg_imports', 0) + 1\n"
        'class Heavy:\n'
        '    pass\n'
        'def helper():\n'
        "    return 'helped'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield importlib.import_module(PACKAGE)
    for name in [m for m in sys.modules if m.split('.')[0] == PACKAGE]:
        del sys.modules[name]
    import builtins
    if hasattr(builtins, '_lazy_pkg_imports'):
        del builtins._lazy_pkg_imports


def test_imported_on_first_use_and_cached(lazy_pkg):
    import builtins
    assert f'{PACKAGE}._heavy' not in sys.modules
    assert 'Heavy' not in vars(lazy_pkg)
    heavy = lazy_pkg.Heavy
    assert f'{PACKAGE}._heavy' in sys.modules
    assert heavy is sys.modules[f'{PACKAGE}._heavy'].Heavy
    # cached in the module: later look-ups do not reach __getattr__
    assert vars(lazy_pkg)['Heavy'] is heavy
    assert lazy_pkg.Heavy is heavy
    # a second name of the same submodule: no second import
    from lazy_pkg_for_test import helper
    assert helper() == 'helped'
    assert builtins._lazy_pkg_imports == 1


def test_unknown_name_raises_attribute_error(lazy_pkg):
    with pytest.raises(AttributeError, match=f"'{PACKAGE}'.*'missing'"):
        lazy_pkg.missing
    assert not hasattr(lazy_pkg, 'missing')
    with pytest.raises(ImportError):
        from lazy_pkg_for_test import missing  # noqa: F401
    assert f'{PACKAGE}._heavy' not in sys.modules


def test_dir_lists_lazy_names(lazy_pkg):
    names = dir(lazy_pkg)
    assert {'Heavy', 'helper', 'EAGER', '_LAZY'} <= set(names)
    assert names == sorted(names)
    assert f'{PACKAGE}._heavy' not in sys.modules  # dir imports nothing
    lazy_pkg.Heavy
    assert dir(lazy_pkg).count('Heavy') == 1


def test_helper_alone():
    """The pair works on any module in ``sys.modules``."""
    getattr_, dir_ = lazy_module_attrs('mmfusion.utils',
                                       {'lazy_module_attrs': 'lazy'})
    assert 'lazy_module_attrs' in dir_()
    assert getattr_('lazy_module_attrs') is lazy_module_attrs
    with pytest.raises(AttributeError, match="'mmfusion.utils'"):
        getattr_('nothing')


@pytest.mark.parametrize('package, name', [
    ('mmfusion.apis', 'FusionInferencer'),
    ('mmfusion.evaluation', 'FusionMetric'),
    ('mmfusion.visualization', 'FusionVisualizer'),
])
def test_the_packages_use_it(package, name):
    module = importlib.import_module(package)
    assert name in dir(module) and name in module.__all__
    assert getattr(module, name).__name__ == name
    with pytest.raises(AttributeError, match=repr(package)):
        getattr(module, 'NoSuchName')
