"""The one Gaussian window, Sobel operator and SSIM combination that the
losses and the metrics share (mmfusion.utils.image_filters)."""
import pytest
import torch
import torch.nn.functional as F

from mmfusion.evaluation.functional.filters import sobel3
from mmfusion.utils.image_filters import (SOBEL_X, SOBEL_Y, gaussian_kernel1d,
                                          gaussian_window, sobel, ssim,
                                          ssim_maps)


@pytest.mark.parametrize('size,sigma', [(11, 1.5), (7, 1.0), (17, 3.4),
                                        (5, 1.)])
def test_gaussian_window(size, sigma):
    """The outer product of the normalised 1-D Gaussian, as the losses'
    window was built before (torch float64, normalised, float32)."""
    x = torch.arange(size, dtype=torch.float64) - size // 2
    g = torch.exp(-x**2 / (2 * sigma**2))
    g = g / g.sum()
    assert torch.equal(gaussian_window(size, sigma), torch.outer(g, g).float())
    torch.testing.assert_close(gaussian_kernel1d(size, sigma), g)
    assert torch.equal(
        gaussian_kernel1d(size, sigma, matlab=True),
        gaussian_kernel1d(size, sigma))


def test_gaussian_window_checks():
    with pytest.raises(ValueError, match='odd'):
        gaussian_window(10, 1.5)
    # MATLAB's fspecial zeroes the far corners of a wide, narrow window
    gaussian_kernel1d(41, 1.)
    with pytest.raises(ValueError, match='MATLAB truncation'):
        gaussian_kernel1d(41, 1., matlab=True)


def test_sobel_is_the_kernels_correlation():
    x = torch.rand(2, 3, 13, 17, dtype=torch.float64)
    dx, dy = sobel(x)
    c = x.size(1)
    for got, k in ((dx, SOBEL_X), (dy, SOBEL_Y)):
        ref = F.conv2d(x, k.to(x).expand(c, 1, 3, 3), padding=1, groups=c)
        torch.testing.assert_close(got, ref)
    xr = F.pad(x, (1, 1, 1, 1), mode='reflect')
    dx, dy = sobel(x, 'reflect')
    torch.testing.assert_close(
        dx, F.conv2d(xr, SOBEL_X.to(x).expand(c, 1, 3, 3), groups=c))
    torch.testing.assert_close(
        dy, F.conv2d(xr, SOBEL_Y.to(x).expand(c, 1, 3, 3), groups=c))
    with pytest.raises(ValueError, match='padding'):
        sobel(x, 'replicate')


@pytest.mark.parametrize('padding', ['zeros', 'reflect'])
def test_metric_fast_path_equals_sobel(padding):
    """The metrics' OpenCV path gives the very values of sobel() on 8-bit
    images (both exact)."""
    x = torch.randint(0, 256, (3, 31, 29)).float()
    for fast, ref in zip(sobel3(x, padding), sobel(x, padding)):
        assert torch.equal(fast, ref)
    for fast, ref in zip(sobel3(x[:1], padding), sobel(x[:1], padding)):
        assert torch.equal(fast, ref)


def test_sobel_keeps_dtype_under_autocast():
    x = torch.rand(1, 1, 8, 8)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        assert all(d.dtype == torch.float32 for d in sobel(x))


def test_ssim_maps_with_and_without_graph_agree():
    """In place without a graph, out of place with one: the same values."""
    x, y = torch.rand(2, 1, 24, 20), torch.rand(2, 1, 24, 20)

    def box(v):
        return F.avg_pool2d(v, 5, stride=1)

    with torch.no_grad():
        plain, = ssim_maps(x, [y], box, 1e-4, 9e-4, cov_norm=25 / 24)
    xg = x.clone().requires_grad_()
    graph, = ssim_maps(xg, [y], box, 1e-4, 9e-4, cov_norm=25 / 24)
    assert torch.equal(plain, graph.detach())
    graph.mean().backward()
    assert xg.grad.abs().sum() > 0
    # the loss SSIM: 1 for identical images, symmetric
    assert ssim(x, x).item() == pytest.approx(1., abs=1e-5)
    assert ssim(x, y).item() == pytest.approx(ssim(y, x).item(), abs=1e-7)
