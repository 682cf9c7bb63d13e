import pytest
import torch

from mmfusion.models import SeAFusionNet
from mmfusion.registry import MODELS
from mmfusion.utils.image_filters import SOBEL_X


def test_parameter_count_matches_paper_net():
    net = SeAFusionNet()
    n = sum(p.numel() for p in net.parameters() if p.requires_grad)
    assert n == 166657


@pytest.mark.parametrize('hw', [(17, 23), (32, 32), (5, 40)])
def test_any_size_output_in_unit_range(hw):
    torch.manual_seed(0)
    net = SeAFusionNet()
    ir, vis = torch.rand(2, 1, *hw), torch.rand(2, 1, *hw)
    out = net(ir, vis)
    assert out.shape == (2, 1, *hw)
    assert out.min() >= 0 and out.max() <= 1


def test_learnable_sobel_starts_as_sobel_and_trains():
    net = SeAFusionNet()
    w = net.ir_grdb1.sobel.weight_x
    assert torch.equal(w[3, 0], SOBEL_X)
    out = net(torch.rand(1, 1, 8, 8), torch.rand(1, 1, 8, 8))
    out.mean().backward()
    assert w.grad is not None and w.grad.abs().sum() > 0


def test_built_from_registry_by_name():
    net = MODELS.build(dict(type='SeAFusionNet'))
    assert isinstance(net, SeAFusionNet)
