import pytest
import torch

from mmfusion.models import MaxIntensityTextureLoss


def test_intensity_term_by_hand():
    # constant images: Sobel responses vanish inside but not at the zero
    # padded border, so use texture_weight=0 to isolate the intensity term
    ir = torch.tensor([[[[0.2, 0.8], [0.5, 0.1]]]])
    vis = torch.tensor([[[[0.6, 0.3], [0.5, 0.4]]]])
    fused = torch.tensor([[[[0.6, 0.6], [0.6, 0.6]]]])
    loss = MaxIntensityTextureLoss(texture_weight=0.)(fused, ir, vis)
    # max = [[.6,.8],[.5,.4]] -> |F-max| = [0, .2, .1, .2] -> mean .125
    assert loss['loss_int'].item() == pytest.approx(0.125, abs=1e-7)
    assert loss['loss_texture'].item() == 0


def test_texture_term_by_hand():
    # 1x3 images; zero padding; Sobel x at the centre pixel = (right-left)*2
    ir = torch.tensor([[[[0., 1., 0.]]]])  # |Sx| = [2, 0, 2], |Sy| = 0
    vis = torch.zeros(1, 1, 1, 3)
    fused = torch.zeros(1, 1, 1, 3)
    loss = MaxIntensityTextureLoss(int_weight=0.)(fused, ir, vis)
    # gradient magnitudes of ir: [2, 0, 2]; fused: 0 -> mean 4/3, weight 10
    assert loss['loss_texture'].item() == pytest.approx(10 * 4 / 3, rel=1e-6)


def test_zero_when_fused_equals_dominant_source():
    ir = torch.rand(1, 1, 6, 6)
    loss = MaxIntensityTextureLoss()(ir.clone(), ir, torch.zeros_like(ir))
    assert loss['loss_int'].item() == 0
    assert loss['loss_texture'].item() == pytest.approx(0, abs=1e-6)
