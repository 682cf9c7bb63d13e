import pytest
import torch

from mmfusion.models import WeightedIntensityGradientLoss


def _weights(wa):
    wa = torch.tensor(wa).view(1, 1, 1, -1)
    return torch.cat([wa, 1 - wa], dim=1)


def test_intensity_weight_inside_and_outside_by_hand():
    a = torch.tensor([[[[1., 0.]]]])
    b = torch.tensor([[[[0., 1.]]]])
    fused = torch.full((1, 1, 1, 2), 0.5)
    w = _weights([0.8, 0.2])
    inside = WeightedIntensityGradientLoss(grad_weight=0.)
    # ((.8*.5)^2 + (.2*.5)^2)/2 twice = .085 + .085
    assert inside(fused, a, b, pixel_weights=w)['loss_int'].item() == \
        pytest.approx(0.17, abs=1e-7)
    outside = WeightedIntensityGradientLoss(
        grad_weight=0., weight_position='outside')
    # (.8*.25 + .2*.25)/2 twice = .125 + .125
    assert outside(fused, a, b, pixel_weights=w)['loss_int'].item() == \
        pytest.approx(0.25, abs=1e-7)
    assert inside.weight_position == 'inside'  # documented default


def test_gradient_target_keeps_sign_of_larger_response():
    # 1x3 images, zero padding: S_x at pixel j = 2 (x[j+1] - x[j-1]), S_y = 0
    a = torch.tensor([[[[0., 1., 0.]]]])  # S_x a = [2, 0, -2]
    b = torch.tensor([[[[1., 0., 0.]]]])  # S_x b = [0, -2, 0]
    loss = WeightedIntensityGradientLoss(
        int_weight=0., grad_weight=3., default_weights=(.5, .5))
    # signed max = [2, -2, -2]; S_x F = [0, 2, 0] -> |diff| = [2, 4, 2]
    fused = torch.tensor([[[[0., 0., 1.]]]])
    out = loss(fused, a, b)
    assert out['loss_grad'].item() == pytest.approx(3 * 8 / 3, rel=1e-6)
    assert out['loss_int'].item() == 0


def test_ties_take_the_first_input():
    a = torch.tensor([[[[0., 1., 0.]]]])  # S_x = [2, 0, -2]
    b = -a  # S_x = [-2, 0, 2]: same magnitude, opposite sign
    loss = WeightedIntensityGradientLoss(
        int_weight=0., default_weights=(.5, .5))
    assert loss(a.clone(), a, b)['loss_grad'].item() == 0
    assert loss(b.clone(), a, b)['loss_grad'].item() == \
        pytest.approx(8 / 3, rel=1e-6)


def test_weights_are_required_and_checked():
    x = torch.rand(1, 1, 4, 4)
    with pytest.raises(ValueError, match='pixel_weights'):
        WeightedIntensityGradientLoss()(x, x, x)
    with pytest.raises(ValueError, match=r'\(N, 2, H, W\)'):
        WeightedIntensityGradientLoss()(
            x, x, x, pixel_weights=torch.rand(1, 2, 4, 5))
    with pytest.raises(ValueError, match='inside'):
        WeightedIntensityGradientLoss(weight_position='middle')


def test_weights_pull_fused_towards_weighted_source():
    a, b = torch.zeros(1, 1, 5, 5), torch.ones(1, 1, 5, 5)
    fused = torch.full((1, 1, 5, 5), 0.5, requires_grad=True)
    w = torch.cat([torch.full_like(a, .9), torch.full_like(a, .1)], 1)
    loss = WeightedIntensityGradientLoss(grad_weight=0.)
    loss(fused, a, b, pixel_weights=w)['loss_int'].backward()
    assert (fused.grad > 0).all()  # descending moves F towards a = 0
