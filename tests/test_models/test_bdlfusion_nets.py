import pytest
import torch

from mmfusion.models import DRDBFusionNet, PixelDiscriminator
from mmfusion.registry import MODELS


def n_params(net):
    return sum(p.numel() for p in net.parameters() if p.requires_grad)


def test_parameter_counts_match_published_nets():
    assert n_params(DRDBFusionNet()) == 417730
    assert n_params(PixelDiscriminator()) == 8704


@pytest.mark.parametrize('hw', [(13, 21), (6, 33)])
def test_fusion_net_any_size_in_unit_range(hw):
    torch.manual_seed(0)
    net = MODELS.build(dict(type='DRDBFusionNet', clamp_output=True))
    out = net(torch.rand(2, 1, *hw), torch.rand(2, 1, *hw))
    assert out.shape == (2, 1, *hw)
    assert out.min() >= 0 and out.max() <= 1


def test_fusion_net_output_is_raw_by_default():
    """As published (Fusion_Network_IJ ends with the PReLU, no bound): the
    raw output by default."""
    torch.manual_seed(0)
    net = MODELS.build(dict(type='DRDBFusionNet', channels=8, growth=4))
    with torch.no_grad():
        net.head_conv2.bias.fill_(1.5)
    out = net(torch.rand(1, 1, 9, 9), torch.rand(1, 1, 9, 9))
    assert out.max() > 1


def test_straight_through_clamp_keeps_published_gradient():
    torch.manual_seed(0)
    clamped = DRDBFusionNet(channels=8, growth=4, clamp_output=True)
    raw = DRDBFusionNet(channels=8, growth=4)
    raw.load_state_dict(clamped.state_dict())
    with torch.no_grad():  # push outputs out of range on purpose
        for net in (clamped, raw):
            net.head_conv2.bias.fill_(1.5)
    ir, vis = torch.rand(1, 1, 9, 9), torch.rand(1, 1, 9, 9)
    out_raw = raw(ir, vis)
    assert out_raw.max() > 1  # the published net is unbounded
    out = clamped(ir, vis)
    torch.testing.assert_close(out, out_raw.clamp(0, 1))
    out.sum().backward()
    out_raw.sum().backward()
    torch.testing.assert_close(clamped.stem.weight.grad, raw.stem.weight.grad)


def test_shared_prelu_and_input_order():
    net = DRDBFusionNet()
    prelus = [m for m in net.modules() if isinstance(m, torch.nn.PReLU)]
    assert len(prelus) == 1 and prelus[0].weight.numel() == 1
    # channel 0 of the stem conv sees IR, channel 1 VIS-Y
    with torch.no_grad():
        net.stem.weight.zero_()
        net.stem.weight[:, 0] = 1.0
    a, b = torch.rand(1, 1, 8, 8), torch.rand(1, 1, 8, 8)
    torch.testing.assert_close(net(a, b), net(a, torch.rand(1, 1, 8, 8)))
    with pytest.raises(ValueError, match='DRDBFusionNet'):
        net(a, torch.rand(1, 3, 8, 8))


def test_discriminator_is_per_pixel():
    torch.manual_seed(0)
    disc = PixelDiscriminator().eval()
    x = torch.rand(2, 1, 7, 5)
    logits = disc(x)
    assert logits.shape == (2, 1, 7, 5)
    # 1x1 receptive field: changing one pixel changes only its own logit
    y = x.clone()
    y[0, 0, 3, 2] += 0.5
    changed = (disc(y) - logits).abs() > 0
    assert changed.sum() == 1 and changed[0, 0, 3, 2]
