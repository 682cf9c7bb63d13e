# Copyright (c) mmfusion contributors. All rights reserved.
"""The torch metrics against the plain numpy reference implementation, the
convention options and degenerate (constant) images."""
import inspect
import math
import os.path as osp
import re

import numpy as np
import pytest
import torch

# yapf: disable (isort's wrapping of this long import is kept)
from mmfusion.evaluation.functional import (ALL_METRICS, DE_FACTO_METRICS,
                                            DEFAULT_OPTIONS, LOWER_IS_BETTER,
                                            METRICS, REFERENCE_FREE_METRICS,
                                            bgr_to_gray,
                                            compute_fusion_metrics,
                                            filter_valid, fused_to_gray,
                                            parse_metric_names, rgb_to_gray)
# yapf: enable
from mmfusion.evaluation.functional.filters import _pass
from mmfusion.testing import numpy_reference as nr
from mmfusion.utils.image_filters import gaussian_kernel1d


@pytest.fixture(scope='module')
def crops(seafusion_gray):
    """Three real crops (day and night; 104 x 136, odd-free but not a
    multiple of the windows) of the SeAFusion result and its sources."""
    fused, ir, vis = seafusion_gray
    sl = (slice(None, 3), slice(150, 254), slice(250, 386))
    return fused[sl], ir[sl], vis[sl]


OPTION_SETS = [
    dict(),
    dict(
        mi_base=2,
        sf_scale='unit',
        psnr_peak=255,
        vif_reduction='mean',
        ssim_reduction='mean',
        ssim_dtype='float64',
        nabf_scale='255'),
    dict(ssim_mode='mef', ssim_data_range=255.),
]


@pytest.mark.parametrize('options', OPTION_SETS)
def test_torch_equals_numpy_reference(crops, options):
    fused, ir, vis = crops
    out = compute_fusion_metrics(fused, ir, vis, ALL_METRICS, **options)
    for i in range(len(fused)):
        ref = nr.compute_all(fused[i], ir[i], vis[i], ALL_METRICS, **options)
        for metric in ALL_METRICS:
            got = float(out[metric][i])
            assert got == pytest.approx(ref[metric], rel=2e-6, abs=1e-9), \
                (metric, i, options)


def test_options_are_the_documented_transforms(crops):
    fused, ir, vis = crops
    base = compute_fusion_metrics(fused, ir, vis)
    alt = compute_fusion_metrics(
        fused,
        ir,
        vis,
        mi_base=2,
        sf_scale='unit',
        vif_reduction='mean',
        ssim_reduction='mean',
        psnr_peak=255)
    torch.testing.assert_close(alt['MI'], base['MI'] / math.log(2))
    torch.testing.assert_close(alt['SF'], base['SF'] / 255)
    torch.testing.assert_close(alt['VIF'], base['VIF'] / 2)
    torch.testing.assert_close(alt['SSIM'], base['SSIM'] / 2)
    peak = torch.from_numpy(fused.reshape(len(fused), -1).max(1))
    torch.testing.assert_close(alt['PSNR'],
                               base['PSNR'] + 20 * torch.log10(255. / peak))
    # the exact-arithmetic SSIM differs from the float32 one by float noise
    exact = compute_fusion_metrics(
        fused, ir, vis, ['SSIM'], ssim_dtype='float64')['SSIM']
    torch.testing.assert_close(exact, base['SSIM'], rtol=1e-3, atol=0)
    with pytest.raises(TypeError, match='unknown metric options'):
        compute_fusion_metrics(fused, ir, vis, bogus=1)
    with pytest.raises(ValueError, match='mi_base'):
        compute_fusion_metrics(fused, ir, vis, ['MI'], mi_base=10)
    with pytest.raises(KeyError, match='unknown fusion metric'):
        compute_fusion_metrics(fused, ir, vis, ['FMI'])


def test_metric_names():
    assert parse_metric_names('all') == ALL_METRICS
    assert parse_metric_names('MS-SSIM, qabf nabf') == ('MS_SSIM', 'Qabf',
                                                        'Nabf')
    assert set(DEFAULT_OPTIONS) >= {'mi_base', 'ssim_dtype', 'nabf_scale'}


def test_one_table_of_metrics():
    """Every list of names and the options' defaults are read from METRICS
    (the values they had as separate lists)."""
    assert ALL_METRICS == tuple(METRICS) == (
        'EN', 'SD', 'SF', 'AG', 'MI', 'SCD', 'VIF', 'Qabf', 'SSIM', 'PSNR',
        'MSE', 'CC', 'Nabf', 'MS_SSIM')
    assert DE_FACTO_METRICS == ALL_METRICS[:12]
    assert REFERENCE_FREE_METRICS == ('EN', 'SD', 'SF', 'AG')
    assert LOWER_IS_BETTER == ('MSE', 'Nabf')
    assert DEFAULT_OPTIONS == dict(
        mi_base='e',
        sf_scale='255',
        psnr_peak='max',
        vif_reduction='sum',
        ssim_mode='pairwise',
        ssim_reduction='sum',
        ssim_data_range=2.0,
        ssim_dtype='float32',
        nabf_scale='unit')
    for name in ('MSSSIM', 'Q_ABF', 'N_ABF', 'ms-ssim'):
        assert parse_metric_names(name)[0] in METRICS
    # each option is an argument of its metric's function, with the
    # function's own default
    for spec in METRICS.values():
        params = inspect.signature(spec.fn).parameters
        for arg, default in spec.options.values():
            assert params[arg].default == default
        assert ('shared' in params) == spec.takes_shared


def test_docs_list_the_table():
    """docs/evaluation.md: the metrics table (section 2) has the table's
    names and directions; the options table (section 4) its options and
    defaults."""
    path = osp.join(
        osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'docs',
        'evaluation.md')
    with open(path, encoding='utf-8') as f:
        text = f.read()
    rows = re.findall(r'^\| (\w+) \| .* \| ([↑↓]) \|$', text, re.M)
    assert len(rows) == len(METRICS)
    assert dict(rows) == {
        n: '↑' if m.higher_is_better else '↓'
        for n, m in METRICS.items()
    }
    options = re.findall(r'^\| `(\w+)` \| `?([^`|]+?)`? (?:\(.*\) )?\|', text,
                         re.M)
    assert sorted(o for o, _ in options) == sorted(DEFAULT_OPTIONS)
    for option, default in options:
        assert repr(DEFAULT_OPTIONS[option]) == default, option


def test_constant_images_give_documented_values(crops):
    _, ir, vis = crops
    ir, vis = ir[:1], vis[:1]
    shape = ir.shape
    zeros = np.zeros(shape)
    grey = np.full(shape, 128.)
    # a constant fused image against real sources
    out = compute_fusion_metrics(grey, ir, vis)
    for metric, value in out.items():
        assert torch.isfinite(value).all(), metric
    for metric in ('EN', 'SD', 'SF', 'AG', 'MI', 'CC', 'VIF'):
        assert float(out[metric]) == 0, metric
    assert 0 < float(out['Qabf']) < 1  # border responses of zero padding
    # constant sources: VIFp of a constant reference is 1 (the evaluator's
    # NaN -> 1), correlations with a constant are 0, no source gradient ->
    # Qabf 0
    out = compute_fusion_metrics(vis, zeros, zeros)
    assert float(out['VIF']) == 2
    assert float(out['CC']) == 0 and float(out['SCD']) == 0
    assert float(out['Qabf']) == 0
    assert all(torch.isfinite(v).all() for k, v in out.items())
    # everything constant and equal: MSE 0 -> PSNR +inf
    out = compute_fusion_metrics(grey, grey, grey)
    assert float(out['MSE']) == 0 and float(out['PSNR']) == math.inf
    assert float(out['SSIM']) == pytest.approx(2)
    assert float(out['MS_SSIM']) == pytest.approx(1)
    assert float(out['Nabf']) == 0 and float(out['Qabf']) > 0
    # an all-black fused image: PSNR = 10 log10(0 / MSE) = -inf
    out = compute_fusion_metrics(zeros, ir, vis, ['PSNR', 'EN', 'MI'])
    assert float(out['PSNR']) == -math.inf
    assert float(out['EN']) == 0 and float(out['MI']) == 0
    for metric, value in compute_fusion_metrics(zeros, zeros, zeros).items():
        assert not torch.isnan(value).any(), metric


def test_non_integer_inputs_use_distinct_values_for_mi():
    rng = np.random.default_rng(0)
    f = rng.random((1, 40, 50)) * 255
    a = np.round(rng.random((1, 40, 50)) * 255)
    b = np.round(rng.random((1, 40, 50)) * 255)
    got = compute_fusion_metrics(f, a, b, ['MI', 'EN'])
    assert float(got['MI']) == pytest.approx(nr.mi(f[0], a[0], b[0]))
    assert float(got['EN']) == pytest.approx(nr.en(f[0]))


def test_shape_errors(crops):
    fused, ir, vis = crops
    with pytest.raises(ValueError, match='same shape'):
        compute_fusion_metrics(fused, ir[:, :-1], vis)
    with pytest.raises(ValueError, match='smaller than the 17x17 window'):
        compute_fusion_metrics(fused[:, :12, :12], ir[:, :12, :12],
                               vis[:, :12, :12], ['VIF'])
    # the reference-free metrics need no sources
    out = compute_fusion_metrics(fused, None, None, ['EN', 'SD', 'SF', 'AG'])
    assert out['EN'].shape == (3, )


@pytest.mark.parametrize('stride', [1, 2])
def test_cpu_shift_add_equals_convolution(stride):
    """The CPU path (OpenCV), the shifted multiply-adds and the CUDA path
    (conv2d) of the separable filter compute the same valid correlation."""
    x = torch.rand(2, 3, 41, 37, dtype=torch.float64) * 255
    win = gaussian_kernel1d(9, 1.8)
    got = filter_valid(x, win, stride=stride)
    full = torch.nn.functional.conv2d(
        x.reshape(-1, 1, 41, 37),
        torch.outer(win, win)[None, None],
        stride=stride).reshape(2, 3, *got.shape[-2:])
    torch.testing.assert_close(got, full)
    by_conv = _pass(
        _pass(x, win.tolist(), -1, stride, impl='conv'),
        win.tolist(),
        -2,
        stride,
        impl='conv')
    torch.testing.assert_close(by_conv, full)
    by_shift = _pass(
        _pass(x, win.tolist(), -1, stride, impl='shift'),
        win.tolist(),
        -2,
        stride,
        impl='shift')
    torch.testing.assert_close(by_shift, full)


def test_torch_code_path_equals_cpu_path(crops, monkeypatch):
    """On CPU the filters, Sobel responses, downsampling and transcendental
    functions go through OpenCV and numpy; on CUDA through torch. Forcing
    the torch code on CPU gives the same metrics (this machine has no GPU
    in CI)."""
    from mmfusion.evaluation.functional import filters
    from mmfusion.evaluation.functional import fusion_metrics as fm
    fused, ir, vis = crops
    expected = compute_fusion_metrics(fused, ir, vis, chunk_size=1)
    monkeypatch.setattr(filters, '_CV2_DTYPES', ())
    monkeypatch.setattr(
        fm, '_ufunc',
        lambda name, *xs: getattr(torch, fm._TORCH_UFUNCS.get(name, name))
        (*xs))
    monkeypatch.setattr(fm, '_dot_hw', lambda x, y: fm._sum_hw(x * y))
    ag = fm.METRICS['AG']
    monkeypatch.setitem(
        fm.METRICS, 'AG',
        ag._replace(fn=lambda f: fm.average_gradient(f.float())))
    got = compute_fusion_metrics(fused, ir, vis, chunk_size=3)
    for metric, values in expected.items():
        torch.testing.assert_close(
            got[metric], values, rtol=1e-7, atol=0, msg=metric)
    # OpenCV's 2x2 area downsampling (one image) and torch's (a batch)
    x = torch.from_numpy(fused[:2]).double()
    torch.testing.assert_close(
        fm._downsample2(x[:1]), fm._downsample2(x)[:1], rtol=0, atol=0)


def test_gray_conversion_follows_the_evaluator():
    rng = np.random.default_rng(1)
    bgr = rng.integers(0, 256, (64, 80, 3), dtype=np.uint8)
    expected = np.round(bgr[..., 0].astype(np.float32) * np.float32(0.114) +
                        bgr[..., 1].astype(np.float32) * np.float32(0.587) +
                        bgr[..., 2].astype(np.float32) * np.float32(0.299))
    gray = bgr_to_gray(bgr)
    # OpenCV's float conversion; a few ties may round the other way
    assert (gray != expected).mean() < 1e-3
    np.testing.assert_array_equal(rgb_to_gray(bgr[..., ::-1]), gray)
    # a fused image in [0, 1] is quantised like FusedImageSaveHook saves it
    rgb = torch.from_numpy(bgr[..., ::-1].copy()).permute(2, 0, 1) / 255.
    np.testing.assert_array_equal(fused_to_gray(rgb), gray)
