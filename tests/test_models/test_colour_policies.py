import pytest
import torch
from mmengine.registry import init_default_scope

from mmfusion.registry import MODELS
from mmfusion.utils import (normalize_output, restore_colour, rgb_to_ycbcr,
                            saturation_weighted_chroma, ycbcr_to_rgb)


def _px(*values):
    return torch.tensor(values).view(1, len(values), 1, 1)


def test_saturation_weighted_chroma_by_hand():
    ir, vis = _px(0.4, 0.5), _px(0.7, 0.2)
    # Cb: (-.1*.1 + .2*.2) / (.1 + .2) = .1 -> .6 ; Cr: IR neutral -> VIS .2
    torch.testing.assert_close(
        saturation_weighted_chroma(ir, vis), _px(0.6, 0.2), atol=1e-6, rtol=0)
    # grey in both stays exactly grey
    assert saturation_weighted_chroma(_px(.5, .5), _px(.5, .5)).eq(.5).all()


def test_matches_tdfusion_formula_in_opencv_scale():
    # TDFusion: C_f = sum C_i |C_i - .5| / (sum |C_i - .5| + 1e-4) on OpenCV
    # float YCrCb of 0-255 images, i.e. C_cv = 255 (c - .5) + .5
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(
        1, 2, 5, 5, generator=g), torch.rand(
            1, 2, 5, 5, generator=g)
    ca, cb = 255 * (a - .5) + .5, 255 * (b - .5) + .5
    sa, sb = (ca - .5).abs(), (cb - .5).abs()
    ref = (ca * sa + cb * sb) / (sa + sb + 1e-4)
    ours = 255 * (saturation_weighted_chroma(a, b) - .5) + .5
    torch.testing.assert_close(ours, ref, atol=1e-3, rtol=1e-5)


def test_restore_colour_policies():
    rgb = torch.rand(2, 3, 4, 4, generator=torch.Generator().manual_seed(1))
    y, cbcr = rgb_to_ycbcr(rgb)
    fused = (y + 0.1).clamp(0, 1)
    vis = restore_colour(fused, 'vis', cbcr)
    torch.testing.assert_close(vis, ycbcr_to_rgb(fused, cbcr))
    # 1-channel IR (no chroma): saturation policy = VIS chroma
    torch.testing.assert_close(restore_colour(fused, 'saturation', cbcr), vis)
    ir_cbcr = torch.full_like(cbcr, 0.5)
    torch.testing.assert_close(
        restore_colour(fused, 'saturation', cbcr, ir_cbcr),
        vis,
        atol=1e-5,
        rtol=0)
    gray = restore_colour(fused * 2, 'gray')
    assert gray.shape == (2, 3, 4, 4) and gray.max() <= 1
    with pytest.raises(ValueError, match='needs the VIS chroma'):
        restore_colour(fused, 'vis')
    with pytest.raises(ValueError, match='saturation'):
        restore_colour(fused, 'rainbow', cbcr)


def test_fusion_model_uses_the_colour_policy():
    init_default_scope('mmfusion')
    model = MODELS.build(
        dict(
            type='FusionModel',
            fusion_net=dict(type='ReFusionNet', dim=8, num_heads=4),
            fusion_loss=dict(type='MaxIntensityTextureLoss'),
            colour='saturation',
            output_norm='minmax'))
    g = torch.Generator().manual_seed(2)
    y = torch.rand(1, 1, 3, 3, generator=g)
    inputs = dict(
        vis_cbcr=torch.rand(1, 2, 3, 3, generator=g),
        ir_cbcr=torch.rand(1, 2, 3, 3, generator=g))
    expected = normalize_output(
        ycbcr_to_rgb(
            y, saturation_weighted_chroma(inputs['ir_cbcr'],
                                          inputs['vis_cbcr'])), 'minmax')
    torch.testing.assert_close(model.colourize(y, inputs), expected)
    with pytest.raises(ValueError, match='colour must be one of'):
        MODELS.build(
            dict(
                type='FusionModel',
                fusion_net=dict(type='ReFusionNet'),
                fusion_loss=dict(type='MaxIntensityTextureLoss'),
                colour='sepia'))
