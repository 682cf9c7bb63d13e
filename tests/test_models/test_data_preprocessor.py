import torch
from mmengine.structures import PixelData

from mmfusion.models import FusionDataPreprocessor
from mmfusion.structures import FusionDataSample
from mmfusion.utils import rgb_to_ycbcr


def _sample(h, w, value):
    s = FusionDataSample(metainfo=dict(img_shape=(h, w)))
    s.gt_sem_seg = PixelData(data=torch.full((1, h, w), value))
    return s


def test_pads_pairs_and_masks_and_converts_colour():
    dp = FusionDataPreprocessor(size_divisor=8)
    a = torch.randint(0, 256, (4, 10, 12), dtype=torch.uint8)
    b = torch.randint(0, 256, (4, 7, 14), dtype=torch.uint8)
    samples = [_sample(10, 12, 1), _sample(7, 14, 2)]
    out = dp(dict(inputs=[a, b], data_samples=samples), True)
    x = out['inputs']
    assert x['ir'].shape == (2, 1, 16, 16) and x['vis'].shape == (2, 3, 16, 16)
    # IR is the 4th packed channel, /255; VIS is BGR -> RGB
    assert torch.allclose(x['ir'][1, 0, :7, :14], b[3].float() / 255)
    assert torch.allclose(x['vis'][0, 0, :10, :12], a[2].float() / 255)
    assert x['ir'][1, 0, 7:].abs().sum() == 0  # pad_val 0
    y, cbcr = rgb_to_ycbcr(x['vis'])
    assert torch.equal(y, x['vis_y']) and torch.equal(cbcr, x['vis_cbcr'])
    seg = out['data_samples'][1].gt_sem_seg.data
    assert seg.shape == (1, 16, 16) and (seg[:, 7:] == 255).all()
    assert (seg[:, :7, :14] == 2).all()
    for s in out['data_samples']:
        assert s.metainfo['batch_input_shape'] == (16, 16)


def test_is_differentiable():
    dp = FusionDataPreprocessor()
    img = (torch.rand(4, 6, 6) * 255).requires_grad_()
    out = dp(dict(inputs=[img]), False)
    out['inputs']['vis_y'].sum().backward()
    assert img.grad is not None and img.grad[:3].abs().sum() > 0
