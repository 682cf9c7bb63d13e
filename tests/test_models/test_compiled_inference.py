"""The compiled inference path's dispatch logic (with a stand-in for
``torch.compile``; the real compiled SeAFusion is checked against the
official outputs in tests/test_tools/test_converters_seafusion.py)."""
import warnings

import pytest
import torch

import mmfusion.models.utils.inference as inference
from mmfusion.models import DRDBFusionNet, ReFusionNet, SeAFusionNet


@pytest.fixture
def fake_compile(monkeypatch):
    calls = []

    def compile_(fn, **kwargs):
        calls.append(fn)

        def compiled(*args):
            compiled.runs += 1
            return fn(*args)

        compiled.runs = 0
        return compiled

    monkeypatch.setattr(inference, '_COMPILED', {})
    monkeypatch.setattr(torch, 'compile', compile_)
    return calls


@pytest.mark.parametrize('cls', [SeAFusionNet, ReFusionNet, DRDBFusionNet])
def test_compiled_only_without_grad(cls, fake_compile):
    torch.manual_seed(0)
    net = cls(compile_inference=True).eval()
    ir, vis = torch.rand(1, 1, 6, 7), torch.rand(1, 1, 6, 7)
    out = net(ir, vis)  # grad enabled: eager
    assert fake_compile == [] and out.requires_grad
    with torch.no_grad():
        out_nograd = net(ir, vis)
        net(ir, vis)
    assert fake_compile == [cls._forward]  # compiled once per class
    assert inference._COMPILED[cls].runs == 2
    torch.testing.assert_close(out_nograd, out.detach())
    # bad input is reported before dispatch
    with torch.no_grad(), pytest.raises(ValueError, match=r'\(N, 1, H, W\)'):
        net(ir, torch.rand(1, 3, 6, 7))


def test_disabled_by_default(fake_compile):
    with torch.no_grad():
        SeAFusionNet()(torch.rand(1, 1, 5, 5), torch.rand(1, 1, 5, 5))
    assert fake_compile == []


def test_falls_back_to_eager_when_compiling_fails(monkeypatch):
    monkeypatch.setattr(inference, '_COMPILED', {})

    def broken_compile(fn, **kwargs):

        def compiled(*args):
            raise RuntimeError('no C++ compiler')

        return compiled

    monkeypatch.setattr(torch, 'compile', broken_compile)
    torch.manual_seed(0)
    net = SeAFusionNet(compile_inference=True)
    ir, vis = torch.rand(1, 1, 6, 6), torch.rand(1, 1, 6, 6)
    with torch.no_grad():
        with pytest.warns(UserWarning, match='no C.. compiler'):
            out = net(ir, vis)
        torch.testing.assert_close(out, net._forward(ir, vis))
        assert inference._COMPILED[SeAFusionNet] is None
        with warnings.catch_warnings():
            warnings.simplefilter('error')  # stays eager, warns only once
            net(ir, vis)
