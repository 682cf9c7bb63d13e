# Copyright (c) mmfusion contributors. All rights reserved.
"""The parity checks' machinery: importing an official checkout in
isolation, carrying weights through a converter's key mapping, and the
command line's errors (no official code is needed: a stand-in checkout is
written here)."""
import subprocess
import sys
from collections import OrderedDict

import pytest
import torch

from mmfusion.testing.parity import common


def _checkout(root, value):
    (root / 'nets').mkdir(parents=True)
    (root / 'utils.py').write_text(f'VALUE = {value!r}\n')
    (root / 'nets' / 'Net.py').write_text(
        'from utils import VALUE\nimport torch\n'
        'class Net(torch.nn.Module):\n'
        '    def __init__(self):\n'
        '        super().__init__()\n'
        '        self.conv = torch.nn.Conv2d(1, 2, 3)\n')
    return str(root)


def test_official_modules_are_isolated(tmp_path):
    before = sys.modules.get('utils')
    a = _checkout(tmp_path / 'a', 'a')
    b = _checkout(tmp_path / 'b', 'b')
    with common.official_modules(a, ['utils', 'nets.Net']) as mods:
        assert mods['utils'].VALUE == 'a'
        assert mods['nets.Net'].VALUE == 'a'
    # the second checkout's own modules, not the first's cached ones
    with common.official_modules(b, ['utils', 'nets.Net']) as mods:
        assert mods['nets.Net'].VALUE == 'b'
    assert sys.modules.get('utils') is before
    assert 'nets.Net' not in sys.modules
    assert a not in sys.path and b not in sys.path


def test_official_modules_name_what_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match='no such folder'):
        with common.official_modules(str(tmp_path / 'nope'), ['utils']):
            pass
    root = _checkout(tmp_path / 'c', 'c')
    with pytest.raises(FileNotFoundError, match=r'nets/ReFusion\.py'):
        with common.official_modules(root, ['utils', 'nets.ReFusion']):
            pass


def test_load_converted_carries_weights_by_the_mapping():

    class Official(torch.nn.Module):

        def __init__(self):
            super().__init__()
            self.body = torch.nn.Conv2d(1, 2, 3)

    ours = torch.nn.Sequential(OrderedDict(stem=torch.nn.Conv2d(1, 2, 3)))
    common.seeded_init_(ours, 3)

    def convert(state):
        return OrderedDict(
            (k.replace('body.', 'stem.'), v) for k, v in state.items())

    theirs = Official()
    common.load_converted(theirs, ours, convert)
    assert torch.equal(theirs.body.weight, ours.stem.weight)
    assert common.key_map(convert, theirs.state_dict()) == {
        'body.weight': 'stem.weight',
        'body.bias': 'stem.bias'
    }
    with pytest.raises(KeyError, match='does not have'):
        common.load_converted(
            theirs, ours, lambda s: OrderedDict(
                (k.replace('body.', 'head.'), v) for k, v in s.items()))


def test_named_vector_order_and_missing():
    named = dict(b=torch.tensor([3., 4.]), a=torch.tensor([[1., 2.]]))
    assert common.named_vector(named).tolist() == [1., 2., 3., 4.]
    assert common.named_vector(named, ['b', 'a']).tolist() == [3., 4., 1., 2.]
    with pytest.raises(KeyError, match="'c'"):
        common.named_vector(named, ['a', 'c'])


def test_tool_reports_a_missing_checkout(tmp_path, repo_root):
    out = subprocess.run([
        sys.executable, 'tools/analysis_tools/official_parity.py', '--method',
        'tdfusion', '--official',
        str(tmp_path / 'absent')
    ],
                         cwd=repo_root,
                         capture_output=True,
                         text=True,
                         timeout=600)
    assert out.returncode != 0
    assert 'absent: no such folder' in out.stderr
