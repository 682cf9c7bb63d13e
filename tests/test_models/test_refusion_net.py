import pytest
import torch
from torch.func import functional_call

from mmfusion.models import (ReFusionNet, TDFusionLossGenerator,
                             WeightedIntensityGradientLoss)
from mmfusion.registry import MODELS


def n_params(net):
    return sum(p.numel() for p in net.parameters() if p.requires_grad)


def test_parameter_counts_match_published_nets():
    assert n_params(ReFusionNet()) == 59856
    assert n_params(TDFusionLossGenerator()) == 44529


@pytest.mark.parametrize('hw', [(17, 23), (5, 40), (32, 32)])
def test_fusion_net_any_size_in_unit_range(hw):
    torch.manual_seed(0)
    net = MODELS.build(dict(type='ReFusionNet'))
    out = net(torch.rand(2, 1, *hw), torch.rand(2, 1, *hw))
    assert out.shape == (2, 1, *hw)
    assert out.min() > 0 and out.max() < 1


@pytest.mark.parametrize('hw', [(9, 14), (31, 7)])
def test_loss_generator_any_size_weights_sum_to_one(hw):
    torch.manual_seed(0)
    gen = MODELS.build(dict(type='TDFusionLossGenerator'))
    w = gen(torch.rand(3, 1, *hw), torch.rand(3, 1, *hw))
    assert w.shape == (3, 2, *hw)
    assert (w > 0).all()
    torch.testing.assert_close(w.sum(1), torch.ones(3, *hw))


def test_branches_are_not_interchangeable():
    # the first input goes through encoder1: swapping the inputs (TDFusion's
    # modality-swap augmentation) gives a different result
    torch.manual_seed(0)
    net = ReFusionNet()
    a, b = torch.rand(1, 1, 8, 8), torch.rand(1, 1, 8, 8)
    assert not torch.allclose(net(a, b), net(b, a))


def test_bad_input_is_reported():
    net = ReFusionNet()
    with pytest.raises(ValueError, match=r'\(N, 1, H, W\).*\(1, 3, 8, 8\)'):
        net(torch.rand(1, 1, 8, 8), torch.rand(1, 3, 8, 8))
    with pytest.raises(ValueError, match='differ in shape'):
        TDFusionLossGenerator()(torch.rand(1, 1, 8, 8), torch.rand(1, 1, 8, 9))


def _virtual_step_task_loss(net,
                            gen,
                            loss_fn,
                            batch1,
                            batch2,
                            lr,
                            gen_params=None):
    """TDFusion's meta step: one differentiable SGD step of the fusion net on
    the generated loss (batch1), then a stand-in task loss on batch2 with the
    fast weights. Returns the task loss, a function of the generator's
    weights."""
    params = dict(net.named_parameters())
    ir, vis = batch1
    if gen_params is None:
        weights = gen(ir, vis)
    else:
        weights = functional_call(gen, gen_params, (ir, vis))
    terms = loss_fn(
        functional_call(net, params, (ir, vis)),
        ir,
        vis,
        pixel_weights=weights)
    grads = torch.autograd.grad(
        sum(terms.values()), list(params.values()), create_graph=True)
    fast = {n: p - lr * g for (n, p), g in zip(params.items(), grads)}
    ir2, vis2, target = batch2
    fused = functional_call(net, fast, (ir2, vis2))
    return ((fused - target)**2).mean()


def test_second_order_gradient_reaches_loss_generator():
    torch.manual_seed(0)
    net, gen = ReFusionNet(), TDFusionLossGenerator()
    loss_fn = WeightedIntensityGradientLoss()
    batch1 = (torch.rand(2, 1, 12, 10), torch.rand(2, 1, 12, 10))
    batch2 = (torch.rand(1, 1, 9, 11), torch.rand(1, 1, 9,
                                                  11), torch.rand(1, 1, 9, 11))
    task_loss = _virtual_step_task_loss(
        net, gen, loss_fn, batch1, batch2, lr=1e-4)
    hyper = torch.autograd.grad(task_loss, list(gen.parameters()))
    # every generator layer, the deepest stem conv included, receives a
    # (tiny, as in TDFusion) non-zero hypergradient
    for g in hyper:
        assert torch.isfinite(g).all()
    assert hyper[0].abs().sum() > 0  # encoder1.stem.weight
    assert sum(g.abs().sum() for g in hyper) > 0
    # the fusion net's own weights were not modified by the virtual step
    assert all(p.grad is None for p in net.parameters())


def test_hypergradient_matches_finite_differences():
    torch.manual_seed(0)
    net = ReFusionNet(dim=8, num_heads=4).double()
    gen = TDFusionLossGenerator(dim=8, num_heads=4).double()
    loss_fn = WeightedIntensityGradientLoss()
    batch1 = (torch.rand(1, 1, 7, 6).double(), torch.rand(1, 1, 7, 6).double())
    batch2 = tuple(torch.rand(1, 1, 6, 5).double() for _ in range(3))
    base = {n: p.detach() for n, p in gen.named_parameters()}
    direction = {n: torch.randn_like(p) for n, p in base.items()}

    def task_loss(eps):
        params = {
            n: (p + eps * direction[n]).requires_grad_()
            for n, p in base.items()
        }
        return params, _virtual_step_task_loss(
            net, gen, loss_fn, batch1, batch2, lr=1.0, gen_params=params)

    params, loss = task_loss(0.)
    hyper = torch.autograd.grad(loss, list(params.values()))
    analytic = sum(
        (g * direction[n]).sum() for n, g in zip(params.keys(), hyper))
    eps = 1e-5
    numeric = (task_loss(eps)[1] - task_loss(-eps)[1]) / (2 * eps)
    assert analytic.abs() > 1e-8
    torch.testing.assert_close(
        analytic, numeric.detach(), rtol=1e-4, atol=1e-10)
