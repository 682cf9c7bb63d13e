import pytest
import torch

from mmfusion.utils import (normalize_output, rgb_to_ycbcr, to_uint8,
                            ycbcr_to_rgb)


def test_ycbcr_formulas_by_hand():
    rgb = torch.tensor([0.2, 0.6, 0.9]).view(1, 3, 1, 1)
    y, cbcr = rgb_to_ycbcr(rgb)
    y_ref = 0.299 * 0.2 + 0.587 * 0.6 + 0.114 * 0.9
    assert y.item() == pytest.approx(y_ref, abs=1e-7)
    assert cbcr[0, 0].item() == pytest.approx(
        (0.9 - y_ref) * 0.564 + 0.5, abs=1e-7)
    assert cbcr[0, 1].item() == pytest.approx(
        (0.2 - y_ref) * 0.713 + 0.5, abs=1e-7)


def test_ycbcr_round_trip_is_close():
    rgb = torch.rand(2, 3, 8, 9, generator=torch.Generator().manual_seed(0))
    y, cbcr = rgb_to_ycbcr(rgb)
    back = ycbcr_to_rgb(y, cbcr)
    # the literature's coefficients are rounded: the round trip is exact to
    # about 1e-2 on saturated colours, not to float precision
    assert (back - rgb).abs().max() < 1.5e-2
    assert back.min() >= 0 and back.max() <= 1


def test_rgb_to_ycbcr_rejects_wrong_shape():
    with pytest.raises(ValueError, match=r'\(N, 3, H, W\)'):
        rgb_to_ycbcr(torch.rand(1, 1, 4, 4))


def test_normalize_output_minmax_is_per_image():
    x = torch.stack([torch.full((1, 2, 2), 0.2), torch.zeros(1, 2, 2)])
    x[0, 0, 0, 0] = 0.6
    x[1, 0, 0, 0] = 3.0
    out = normalize_output(x, 'minmax')
    assert out[0].max() == 1 and out[0].min() == 0
    assert out[1].max() == 1 and out[1].min() == 0
    assert normalize_output(x, 'clip').max() == 1
    with pytest.raises(ValueError, match='minmax'):
        normalize_output(x, 'bogus')


def test_to_uint8_rounding_modes_and_gray():
    img = torch.full((3, 1, 2), 0.999)  # 254.745
    assert to_uint8(img, 'round')[0, 0, 0] == 255
    assert to_uint8(img, 'floor')[0, 0, 0] == 254
