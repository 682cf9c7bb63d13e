import math

import pytest
import torch

from mmfusion.models import MeanLogitGANLoss, SaliencyTargetLoss
from mmfusion.models.utils import saliency_weight_map, vsm_saliency
from mmfusion.utils.image_filters import gaussian_window, ssim


def test_vsm_saliency_by_hand():
    # grey levels 0, 128, 255 once each: V = sum_j H(j) |l - j|
    # V(0) = 128 + 255 = 383, V(128) = 128 + 127 = 255, V(255) = 382
    img = torch.tensor([0., 128., 255.]).view(1, 1, 1, 3) / 255
    sal = vsm_saliency(img)
    expected = torch.tensor([128., 0., 127.]).view(1, 1, 1, 3) / 128
    torch.testing.assert_close(sal, expected)
    # two dark pixels, one bright: V(0) = 255, V(255) = 510 -> [0, 0, 1]
    img = torch.tensor([0., 0., 1.]).view(1, 1, 1, 3)
    torch.testing.assert_close(vsm_saliency(img), img)
    # per image, flat image -> 0
    batch = torch.cat([img, torch.full_like(img, .3)])
    assert vsm_saliency(batch)[1].abs().max() == 0


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_vsm_saliency_is_fp32_under_autocast(dtype):
    """Under --amp the histogram-contrast table (up to H * W * 255) would
    overflow float16 (NaN targets, every discriminator step skipped: seen on
    an H100) and bf16 would round it: the map is computed in fp32 anyway."""
    g = torch.Generator().manual_seed(0)
    img = torch.rand(2, 1, 120, 160, generator=g)
    ref = vsm_saliency(img)
    with torch.autocast('cpu', dtype=dtype):
        sal = vsm_saliency(img)
        target = SaliencyTargetLoss().pseudo_target(img, img.flip(-1))
    assert torch.isfinite(target).all()
    torch.testing.assert_close(sal, ref, rtol=0, atol=0)


def test_saliency_weight_map_modes():
    ir = torch.tensor([0., 0., 1.]).view(1, 1, 1, 3)  # V_ir = [0, 0, 1]
    vis = torch.tensor([1., 0., 0.]).view(1, 1, 1, 3)  # V_vis = [1, 0, 0]
    torch.testing.assert_close(
        saliency_weight_map(ir, vis),
        torch.tensor([0., .5, 1.]).view(1, 1, 1, 3))
    torch.testing.assert_close(saliency_weight_map(ir, vis, 'ir_vsm'), ir)
    with pytest.raises(ValueError, match='vsm_weight'):
        saliency_weight_map(ir, vis, 'u2net')


def test_ssim_single_pixel_by_hand():
    # 1x1 images, zero padding: only the centre tap g of the window sees
    # data, so mu = g a, sigma^2 = g a^2 - (g a)^2, cov = g a b - g^2 a b
    g1 = torch.exp(-torch.arange(-5., 6.)**2 / (2 * 1.5**2))
    g = (1 / g1.sum().item())**2
    assert gaussian_window()[5, 5].item() == pytest.approx(g, rel=1e-6)
    a, b = 0.8, 0.3
    mu_a, mu_b = g * a, g * b
    va, vb = g * a * a - mu_a**2, g * b * b - mu_b**2
    cov = g * a * b - mu_a * mu_b
    c1, c2 = 0.01**2, 0.03**2
    expected = ((2 * mu_a * mu_b + c1) *
                (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (va + vb + c2))
    got = ssim(torch.full((1, 1, 1, 1), a), torch.full((1, 1, 1, 1), b))
    assert got.item() == pytest.approx(expected, rel=1e-5)


def test_ssim_identity_and_symmetry():
    torch.manual_seed(0)
    x, y = torch.rand(2, 1, 16, 12), torch.rand(2, 1, 16, 12)
    assert ssim(x, x).item() == pytest.approx(1.0, abs=1e-5)
    assert ssim(x, y).item() == pytest.approx(ssim(y, x).item(), abs=1e-7)
    assert ssim(x, y).item() < 0.5
    with pytest.raises(ValueError, match='same shape'):
        ssim(x, y[:, :, :8])


def test_saliency_target_loss_by_hand():
    ir, vis = torch.ones(1, 1, 4, 4), torch.zeros(1, 1, 4, 4)
    m = torch.full((1, 1, 4, 4), 0.25)  # P = 0.25 everywhere
    loss = SaliencyTargetLoss()
    fused = torch.full((1, 1, 4, 4), 0.5)
    out = loss(fused, ir, vis, saliency=m)
    assert out['loss_l1'].item() == pytest.approx(0.25, abs=1e-7)
    target = torch.full((1, 1, 4, 4), 0.25)
    expected_ssim = 1.1 * (1 - ssim(fused, target).item())
    assert out['loss_ssim'].item() == pytest.approx(expected_ssim, rel=1e-6)
    # F = P: both terms vanish
    zero = loss(target.clone(), ir, vis, saliency=m)
    assert zero['loss_l1'].item() == 0
    assert zero['loss_ssim'].item() == pytest.approx(0, abs=1e-5)


def test_on_the_fly_saliency_favours_salient_ir_pixels():
    ir = torch.zeros(1, 1, 8, 8)
    ir[..., 3:5, 3:5] = 1.0  # a small hot target on a cold background
    vis = torch.full((1, 1, 8, 8), 0.5)  # flat visible image
    target = SaliencyTargetLoss().pseudo_target(ir, vis)
    # m = 0.5 + 0.5 V_ir: 1 on the target -> P = IR = 1 there,
    # 0.5 on the background -> P = 0.5 * 0 + 0.5 * 0.5
    assert target[0, 0, 3, 3].item() == pytest.approx(1.0)
    assert target[0, 0, 0, 0].item() == pytest.approx(0.25)
    with pytest.raises(ValueError, match='saliency_mode'):
        SaliencyTargetLoss(saliency_mode='bogus')


def test_mean_logit_gan_terms():
    logits = torch.tensor([1., 2., 3.])
    assert MeanLogitGANLoss(0.5)(logits, True).item() == -1.0
    assert MeanLogitGANLoss(0.25)(logits, False).item() == 0.5
    # BDLFusion's discriminator loss 0.25 (mean D(F) - mean D(P))
    gan = MeanLogitGANLoss(0.25)
    d_fake, d_real = torch.tensor([2.]), torch.tensor([6.])
    assert (gan(d_fake, False) + gan(d_real, True)).item() == \
        pytest.approx(0.25 * (2 - 6))
    assert not math.isnan(gan(torch.zeros(1, 1, 2, 2), True).item())
