# Copyright (c) mmfusion contributors. All rights reserved.
"""Statistical fusion metrics, vectorised in torch and batched over images.

This is mmfusion's single implementation of the metrics: the registered
:class:`~mmfusion.evaluation.FusionMetric`, ``tools/analysis_tools/
eval_fused.py`` and the benchmark all call :func:`compute_fusion_metrics`.

Notation: ``F`` fused, ``A`` infrared, ``B`` visible; ``(N, H, W)`` tensors
on the 0-255 scale, integer valued in the default convention (8-bit images
converted to gray as the de facto evaluator does, see
:mod:`mmfusion.evaluation.functional.image_io`). Every function returns an
``(N,)`` float64 tensor. ``docs/evaluation.md`` gives the full definitions,
the options and the values on degenerate (constant) images.

Default convention (the MMIF-CDDFuse ``Evaluator.py`` used by most papers
since 2023); the options give the other conventions of the field:

================  ==========================================  ==============
metric            definition (default)                         option
================  ==========================================  ==============
EN                ``-sum p log2 p`` of the 256-bin histogram
SD                population std (ddof 0)
SF                ``sqrt(mean(dx^2) + mean(dy^2))``            ``sf_scale``
AG                ``mean sqrt((Gx^2 + Gy^2) / 2)``, central
                  differences, one-sided at the borders
MI                ``I(F;A) + I(F;B)``, joint histograms, nats  ``mi_base``
SCD               ``r(A, F-B) + r(B, F-A)``
CC                ``(r(A,F) + r(B,F)) / 2``
MSE               ``(mean((A-F)^2) + mean((B-F)^2)) / 2``
PSNR              ``10 log10(max(F)^2 / MSE)``                 ``psnr_peak``
VIF               ``VIFp(A,F) + VIFp(B,F)`` (Sheikh-Bovik)     ``vif_*``
Qabf              Xydeas-Petrovic edge preservation
SSIM              ``SSIM(F,A) + SSIM(F,B)``, skimage legacy    ``ssim_*``
Nabf              Kumar's modified artefact measure            ``nabf_scale``
MS_SSIM           MEF-MS-SSIM of F against {A, B} (Ma 2015)
================  ==========================================  ==============
"""
import math
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, Optional, Sequence, Union

import numpy as np
import torch
from torch import Tensor

from .filters import (box_mean_valid, box_sum_valid, filter_valid,
                      gaussian_kernel1d)

__all__ = [
    'ALL_METRICS', 'DE_FACTO_METRICS', 'REFERENCE_FREE_METRICS',
    'DEFAULT_OPTIONS', 'compute_fusion_metrics', 'entropy',
    'standard_deviation', 'spatial_frequency', 'average_gradient',
    'mutual_information', 'sum_of_correlation_differences',
    'correlation_coefficient', 'mean_squared_error', 'psnr', 'vif', 'qabf',
    'nabf', 'ssim', 'mef_ssim', 'ms_ssim', 'canonical_metric_name',
    'parse_metric_names', 'LOWER_IS_BETTER'
]

#: The metrics of the de facto evaluator, in its order.
DE_FACTO_METRICS = ('EN', 'SD', 'SF', 'AG', 'MI', 'SCD', 'VIF', 'Qabf',
                    'SSIM', 'PSNR', 'MSE', 'CC')
#: Everything mmfusion computes.
ALL_METRICS = DE_FACTO_METRICS + ('Nabf', 'MS_SSIM')
#: Metrics of the fused image alone.
REFERENCE_FREE_METRICS = ('EN', 'SD', 'SF', 'AG')
#: Lower is better for these (the others: higher is better).
LOWER_IS_BETTER = ('MSE', 'Nabf')

#: The de facto convention; see ``docs/evaluation.md`` for each option.
DEFAULT_OPTIONS = dict(
    mi_base='e',
    sf_scale='255',
    psnr_peak='max',
    vif_reduction='sum',
    ssim_mode='pairwise',
    ssim_reduction='sum',
    ssim_data_range=2.0,
    ssim_dtype='float32',
    nabf_scale='unit')

_ALIASES = {'MS-SSIM': 'MS_SSIM', 'MSSSIM': 'MS_SSIM', 'QABF': 'Qabf',
            'NABF': 'Nabf', 'Q_ABF': 'Qabf', 'N_ABF': 'Nabf'}


def canonical_metric_name(name: str) -> str:
    """``'MS-SSIM'`` -> ``'MS_SSIM'``, ``'QABF'`` -> ``'Qabf'`` ...; raises
    ``KeyError`` for unknown names."""
    name = _ALIASES.get(name, _ALIASES.get(name.upper(), name))
    if name not in ALL_METRICS:
        raise KeyError(f'unknown fusion metric {name!r}; available: '
                       f'{", ".join(ALL_METRICS)}')
    return name


def parse_metric_names(metrics: Union[str, Sequence[str]]) -> tuple:
    """Canonical names of ``metrics``: a sequence, a comma/space separated
    string, or ``'all'``."""
    if isinstance(metrics, str):
        if metrics.strip().lower() == 'all':
            return ALL_METRICS
        metrics = [m for m in metrics.replace(',', ' ').split() if m]
    names = tuple(canonical_metric_name(m) for m in metrics)
    if not names:
        raise ValueError('no fusion metric requested')
    return names


def _check_option(name: str, value, allowed: Sequence) -> None:
    if value not in allowed:
        raise ValueError(f'{name} must be one of {list(allowed)}, got '
                         f'{value!r}')


def _sum_hw(x: Tensor) -> Tensor:
    return x.sum(dim=(-2, -1), dtype=torch.float64)


def _mean_hw(x: Tensor) -> Tensor:
    return _sum_hw(x) / (x.shape[-2] * x.shape[-1])


def _is_8bit(*xs: Tensor) -> bool:
    return all(
        bool(((x >= 0) & (x <= 255) & (x == x.round())).all()) for x in xs)


def _pearson(x: Tensor, y: Tensor) -> Tensor:
    """Pearson correlation of each image pair over all pixels; 0 where
    either image is constant."""
    x = x - _mean_hw(x)[:, None, None]
    y = y - _mean_hw(y)[:, None, None]
    den = torch.sqrt(_sum_hw(x * x) * _sum_hw(y * y))
    num = _sum_hw(x * y)
    return torch.where(den > 0, num / torch.where(den > 0, den, 1.), 0.)


# --------------------------------------------------------------------------
# metrics of the fused image alone
# --------------------------------------------------------------------------
def _plogp_sum(p: Tensor, dim) -> Tensor:
    return torch.special.xlogy(p, p).sum(dim)


def entropy(f: Tensor) -> Tensor:
    r"""EN :math:`= -\sum_l p_l \log_2 p_l`, ``p`` the histogram of
    ``round(F)`` over its integer levels divided by ``H W`` (0 for a
    constant image)."""
    n = f.shape[0]
    levels = f.round().long()
    lo = int(levels.min()) if levels.numel() else 0
    levels = levels - lo
    nbins = int(levels.max()) + 1 if levels.numel() else 1
    offset = torch.arange(n, device=f.device).view(-1, 1, 1) * nbins
    hist = torch.bincount((levels + offset).flatten(), minlength=n * nbins)
    p = hist.view(n, nbins).double() / (f.shape[-2] * f.shape[-1])
    return -_plogp_sum(p, 1) / math.log(2)


def standard_deviation(f: Tensor) -> Tensor:
    r"""SD :math:`= \sqrt{\frac{1}{HW}\sum (F-\mu)^2}` (population)."""
    d = f - _mean_hw(f)[:, None, None]
    return torch.sqrt(_mean_hw(d * d))


def spatial_frequency(f: Tensor, scale: str = '255') -> Tensor:
    r"""SF :math:`= \sqrt{\mathrm{mean}((F_{i,j+1}-F_{i,j})^2) +
    \mathrm{mean}((F_{i+1,j}-F_{i,j})^2)}`. ``scale='unit'`` measures the
    image on 0-1 (the MATLAB scripts' ``im2double``), i.e. ``SF / 255``."""
    _check_option('sf_scale', scale, ('255', 'unit'))
    dx = f[..., :, 1:] - f[..., :, :-1]
    dy = f[..., 1:, :] - f[..., :-1, :]
    value = torch.sqrt(_mean_hw(dx * dx) + _mean_hw(dy * dy))
    return value / 255. if scale == 'unit' else value


def average_gradient(f: Tensor) -> Tensor:
    r"""AG :math:`= \frac{1}{HW}\sum\sqrt{(G_x^2+G_y^2)/2}` with central
    differences ``(F[j+1] - F[j-1]) / 2`` inside and one-sided differences
    at the first and last column (row)."""
    gx = torch.cat([
        f[..., :, 1:2] - f[..., :, 0:1], (f[..., :, 2:] - f[..., :, :-2]) / 2,
        f[..., :, -1:] - f[..., :, -2:-1]
    ], -1)
    gy = torch.cat([
        f[..., 1:2, :] - f[..., 0:1, :], (f[..., 2:, :] - f[..., :-2, :]) / 2,
        f[..., -1:, :] - f[..., -2:-1, :]
    ], -2)
    return _mean_hw(torch.sqrt((gx * gx + gy * gy) / 2))


# --------------------------------------------------------------------------
# metrics against the sources
# --------------------------------------------------------------------------
def _mi_8bit(f: Tensor, x: Tensor) -> Tensor:
    n = f.shape[0]
    hw = f.shape[-2] * f.shape[-1]
    offset = torch.arange(n, device=f.device).view(-1, 1, 1) * 65536
    idx = (f.long() * 256 + x.long() + offset).flatten()
    joint = torch.bincount(idx, minlength=n * 65536).view(n, 256, 256)
    joint = joint.double() / hw
    return (_plogp_sum(joint.flatten(1), 1) - _plogp_sum(joint.sum(2), 1) -
            _plogp_sum(joint.sum(1), 1))


def _mi_general(f: Tensor, x: Tensor) -> Tensor:
    values = []
    for fi, xi in zip(f, x):
        _, fl = torch.unique(fi.flatten(), return_inverse=True)
        _, xl = torch.unique(xi.flatten(), return_inverse=True)
        nx = int(xl.max()) + 1
        nf = int(fl.max()) + 1
        joint = torch.bincount(fl * nx + xl, minlength=nf * nx).double()
        joint = joint.view(nf, nx) / fi.numel()
        values.append(
            _plogp_sum(joint.flatten(), 0) - _plogp_sum(joint.sum(1), 0) -
            _plogp_sum(joint.sum(0), 0))
    return torch.stack(values)


def mutual_information(f: Tensor, a: Tensor, b: Tensor,
                       base: Union[str, float] = 'e') -> Tensor:
    r"""MI :math:`= I(F;A) + I(F;B)`, :math:`I(X;Y) = \sum p_{xy}
    \log\frac{p_{xy}}{p_x p_y}` from the joint histogram in which every
    distinct value is a bin (sklearn's ``mutual_info_score``). ``base='e'``
    gives nats (the de facto evaluator), ``base=2`` bits (MATLAB lineage)."""
    if base not in ('e', 2, '2'):
        raise ValueError(f"mi_base must be 'e' or 2, got {base!r}")
    fn = _mi_8bit if _is_8bit(f, a, b) else _mi_general
    value = fn(f, a) + fn(f, b)
    return value / math.log(2) if base in (2, '2') else value


def sum_of_correlation_differences(f: Tensor, a: Tensor,
                                   b: Tensor) -> Tensor:
    """SCD ``= r(A, F - B) + r(B, F - A)`` (``r`` Pearson; 0 for a constant
    image)."""
    return _pearson(a, f - b) + _pearson(b, f - a)


def correlation_coefficient(f: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """CC ``= (r(A, F) + r(B, F)) / 2`` (``r`` is 0 for a constant
    image)."""
    return (_pearson(a, f) + _pearson(b, f)) / 2


def mean_squared_error(f: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """MSE ``= (mean((A - F)^2) + mean((B - F)^2)) / 2``."""
    da = a - f
    db = b - f
    return (_mean_hw(da * da) + _mean_hw(db * db)) / 2


def psnr(f: Tensor, a: Tensor, b: Tensor,
         peak: Union[str, float] = 'max') -> Tensor:
    """PSNR ``= 10 log10(P^2 / MSE)`` with ``P = max(F)`` (de facto) or a
    fixed ``peak`` such as 255. ``+inf`` when MSE is 0, ``-inf`` when
    ``P = 0`` (an all-black fused image)."""
    m = mean_squared_error(f, a, b)
    if peak == 'max':
        p = f.flatten(1).amax(1).double()
    else:
        p = torch.full_like(m, float(peak))
    value = 10 * torch.log10(p * p / m)
    return torch.where(m == 0, math.inf, value)


def _vifp_scales(refs: Tensor, dist: Tensor, sigma_nsq: float = 2.,
                 eps: float = 1e-10) -> Tensor:
    """VIFp of every reference plane ``refs (N, K, H, W)`` against
    ``dist (N, 1, H, W)``, 4 scales; returns ``(N, K)``.

    Window statistics are float64 (``E[x^2] - E[x]^2`` needs it); the
    per-pixel terms that follow are float32, which changes VIF by < 1e-6
    relative and halves the time.
    """
    num = refs.new_zeros(refs.shape[:2])
    den = refs.new_zeros(refs.shape[:2])
    k = refs.shape[1]
    ln10 = math.log(10)
    for scale in range(1, 5):
        size = 2**(5 - scale) + 1
        win = gaussian_kernel1d(size, size / 5.)
        if scale > 1:
            both = filter_valid(torch.cat([refs, dist], 1), win, stride=2)
            refs, dist = both[:, :k], both[:, k:]
        maps = refs.new_empty(refs.shape[0], 3 * k + 2, *refs.shape[2:])
        maps[:, :k] = refs
        maps[:, k] = dist[:, 0]
        torch.mul(refs, refs, out=maps[:, k + 1:2 * k + 1])
        torch.mul(dist, dist, out=maps[:, 2 * k + 1:2 * k + 2])
        torch.mul(refs, dist, out=maps[:, 2 * k + 2:])
        stats = filter_valid(maps, win)
        mu1, mu2 = stats[:, :k], stats[:, k:k + 1]
        s1 = (stats[:, k + 1:2 * k + 1] - mu1 * mu1).clamp_min_(0).float()
        s2 = (stats[:, 2 * k + 1:2 * k + 2] - mu2 * mu2).clamp_min_(0).float()
        s12 = (stats[:, 2 * k + 2:] - mu1 * mu2).float()
        # The evaluator's case analysis, folded: the numerator term is
        # non-zero only where sigma1^2, sigma2^2 >= eps and g > 0; the
        # denominator term only where sigma1^2 >= eps.
        # (masks by multiplication: boolean selection kernels are slow on CPU)
        s1 = s1 * (s1 >= eps)
        g = s12 / (s1 + eps)
        g = g * ((g > 0) & (s1 > 0) & (s2 >= eps))
        sv = (s2 - g * s12).clamp_min_(eps)
        num += _sum_hw(torch.log1p(g * g * s1 / (sv + sigma_nsq))) / ln10
        den += _sum_hw(torch.log1p(s1 / sigma_nsq)) / ln10
    value = num / den
    return torch.where(torch.isnan(value), 1., value)


def _centre(*xs: Tensor) -> tuple:
    """Subtract a per-image integer constant (the rounded mean of ``A``):
    VIF and MEF-SSIM only use (co)variances, which are shift invariant, and
    small magnitudes keep ``E[x^2] - E[x]^2`` accurate and exactly 0 on
    constant windows."""
    c = _mean_hw(xs[0]).round().to(xs[0].dtype).view(-1, 1, 1)
    return tuple(x - c for x in xs)


def vif(f: Tensor, a: Tensor, b: Tensor, reduction: str = 'sum') -> Tensor:
    r"""VIF ``= VIFp(A, F) + VIFp(B, F)`` (``reduction='mean'``: half).

    Pixel-domain VIF (Sheikh & Bovik 2006), sigma_n^2 = 2, eps = 1e-10,
    scales s = 1..4 with an ``N x N`` Gaussian window, N = 2^(5-s) + 1,
    sigma = N / 5; for s > 1 the images are first filtered with it ('valid')
    and subsampled by 2. With 'valid' window statistics
    :math:`\mu, \sigma_1^2, \sigma_2^2, \sigma_{12}` (variances clamped at 0),
    :math:`g = \sigma_{12}/(\sigma_1^2+\epsilon)`,
    :math:`s_v^2 = \sigma_2^2 - g\sigma_{12}`; where
    :math:`\sigma_1^2<\epsilon`: g = 0, :math:`s_v^2=\sigma_2^2,
    \sigma_1^2 = 0`; where :math:`\sigma_2^2<\epsilon`: g = 0,
    :math:`s_v^2 = 0`; where g < 0: :math:`s_v^2=\sigma_2^2`, g = 0;
    :math:`s_v^2 \le \epsilon \to \epsilon`.
    :math:`VIFp = \sum_s\sum\log_{10}(1+g^2\sigma_1^2/(s_v^2+\sigma_n^2)) /
    \sum_s\sum\log_{10}(1+\sigma_1^2/\sigma_n^2)`, NaN (a constant
    reference) -> 1.
    """
    _check_option('vif_reduction', reduction, ('sum', 'mean'))
    f, a, b = _centre(f.double(), a.double(), b.double())
    value = _vifp_scales(torch.stack([a, b], 1), f[:, None]).sum(1)
    return value / 2 if reduction == 'mean' else value


def _sobel_sep(x: Tensor, smooth_dim: int, pad_mode: str) -> Tensor:
    """``x`` correlated with ``[1, 2, 1]`` along ``smooth_dim`` and with
    ``[-1, 0, 1]`` along the other axis, 'same' size (integer exact)."""
    if pad_mode == 'zeros':
        xp = torch.nn.functional.pad(x, (1, 1, 1, 1))
    else:
        xp = torch.nn.functional.pad(x[:, None], (1, 1, 1, 1),
                                     mode='reflect')[:, 0]
    if smooth_dim == -2:
        s = xp[..., :-2, :] + 2 * xp[..., 1:-1, :] + xp[..., 2:, :]
        return s[..., :, 2:] - s[..., :, :-2]
    s = xp[..., :, :-2] + 2 * xp[..., :, 1:-1] + xp[..., :, 2:]
    return s[..., 2:, :] - s[..., :-2, :]


def _atan_ratio(y: Tensor, x: Tensor, at_zero: Tensor) -> Tensor:
    """``atan(y / x)`` in (-pi/2, pi/2] where ``x != 0`` and ``at_zero``
    where ``x == 0``, through ``atan2`` (several times faster than ``atan``
    on CPU) and mask arithmetic."""
    zero = x == 0
    return torch.atan2(y * torch.sign(x), x.abs()) + zero * at_zero


def _qabf_edges(x: Tensor) -> tuple:
    # true convolution with Sx = [[-1,0,1],[-2,0,2],[-1,0,1]] is correlation
    # with its flip: x[j-1] - x[j+1] horizontally, [1,2,1] vertically; Sy =
    # [[1,2,1],[0,0,0],[-1,-2,-1]] flipped: x[i+1] - x[i-1], [1,2,1]
    sx = -_sobel_sep(x, -2, 'zeros')
    sy = _sobel_sep(x, -1, 'zeros')
    mag2 = sx * sx + sy * sy
    alpha = _atan_ratio(sy, sx, torch.full_like(sx, math.pi / 2))
    return mag2, torch.sqrt(mag2), alpha


def _qabf_preservation(m_x, g_x, a_x, m_f, g_f, a_f) -> Tensor:
    # min/max ratio where the strengths differ, g_F where they are equal
    equal = m_x == m_f
    ratio = torch.minimum(g_x, g_f) / torch.maximum(g_x, g_f).clamp_min(1)
    ratio = ratio * ~equal + g_f * equal
    orient = 1 - (a_x - a_f).abs() * (2 / math.pi)
    return (0.9994 * 0.9879) * torch.sigmoid(15 * (ratio - 0.5)) * \
        torch.sigmoid(22 * (orient - 0.8))


def qabf(f: Tensor, a: Tensor, b: Tensor) -> Tensor:
    r"""Q^{AB/F} (Xydeas & Petrovic 2000), as the de facto evaluator.

    Sobel responses by true 2-D convolution ('same', zero padding):
    :math:`g = \sqrt{S_x^2+S_y^2}`, :math:`\alpha = \arctan(S_y/S_x)`
    (:math:`\pi/2` where :math:`S_x = 0`). For X in {A, B}:
    :math:`G = g_F/g_X` where :math:`g_X > g_F`, :math:`g_X/g_F` where
    :math:`g_X < g_F` and :math:`g_F` where they are equal (the evaluator's
    quirk), :math:`A = 1 - |\alpha_X-\alpha_F|/(\pi/2)`,
    :math:`Q_{XF} = \frac{0.9994}{1+e^{-15(G-0.5)}}
    \frac{0.9879}{1+e^{-22(A-0.8)}}`;
    :math:`Q = \sum(Q_{AF}g_A + Q_{BF}g_B)/\sum(g_A+g_B)` (0 when both
    sources have no gradient at all).
    """
    # Sobel responses of 8-bit images are exact in float32; the per-pixel
    # maths runs in float32 like the evaluator, the sums in float64.
    fa = torch.stack([f, a, b]).float()
    m, g, alpha = _qabf_edges(fa.flatten(0, 1))
    m, g, alpha = (t.view(fa.shape) for t in (m, g, alpha))
    q_af = _qabf_preservation(m[1], g[1], alpha[1], m[0], g[0], alpha[0])
    q_bf = _qabf_preservation(m[2], g[2], alpha[2], m[0], g[0], alpha[0])
    num = _sum_hw(q_af * g[1] + q_bf * g[2])
    den = _sum_hw(g[1] + g[2])
    return num / den.clamp_min(1)  # 0 when the sources have no gradient


def nabf(f: Tensor, a: Tensor, b: Tensor, scale: str = 'unit') -> Tensor:
    r"""N^{AB/F}, Kumar's modified fusion-artefact measure (as
    ``analysis_nabf.m`` of the MATLAB evaluation scripts).

    Sobel responses ``/8`` by correlation with mirror ('reflect') padding:
    :math:`g = \sqrt{g_h^2+g_v^2}`, :math:`\alpha = \arctan(g_v/g_h)`
    (0 where both are 0). For X in {A, B}: :math:`G = \min(g_X,g_F)/
    \max(g_X,g_F)` (0 where either is 0), :math:`A = ||\alpha_X-\alpha_F| -
    \pi/2|\cdot 2/\pi`, :math:`Q_{XF} = \sqrt{\frac{0.9999}{1+e^{-19(G-0.5)}}
    \frac{0.9995}{1+e^{-22(A-0.5)}}}`; weights :math:`w_X = g_X^{1.5}` where
    :math:`g_X \ge 2`, else 0.001;
    :math:`N = \sum n[(1-Q_{AF})w_A + (1-Q_{BF})w_B] / \sum(w_A+w_B)` with
    :math:`n = [g_F > g_A \wedge g_F > g_B]`.

    ``scale='unit'`` (default) measures 0-1 images as the MATLAB scripts do
    (``im2double``); there ``g < 2`` everywhere, so every weight is 0.001 and
    Nabf is the mean artefact ``n (2 - Q_AF - Q_BF) / 2``. ``scale='255'``
    measures 0-255 images, where the edge-strength weights take effect.
    """
    _check_option('nabf_scale', scale, ('unit', '255'))
    fa = torch.stack([f, a, b]).float().flatten(0, 1)
    gv = _sobel_sep(fa, -2, 'reflect')  # d/dx, 8x the MATLAB response
    gh = _sobel_sep(fa, -1, 'reflect')  # d/dy
    m = (gv * gv + gh * gh).view(3, *f.shape)
    alpha = _atan_ratio(gv, gh, torch.sign(gv) * (math.pi / 2))
    alpha = alpha.view(3, *f.shape)
    g = torch.sqrt(m) * (1 / (8. * (255. if scale == 'unit' else 1.)))
    strong = g >= 2
    weight = 0.001 + strong * (g * torch.sqrt(g) - 0.001)

    def preservation(i):
        # m are integers: the ratio is 0 where either strength is 0
        ratio = torch.sqrt(
            torch.minimum(m[i], m[0]) / torch.maximum(m[i], m[0]).clamp_min(1))
        orient = ((alpha[i] - alpha[0]).abs() - math.pi / 2).abs() * (
            2 / math.pi)
        return torch.sqrt((0.9999 * 0.9995) *
                          torch.sigmoid(19 * (ratio - 0.5)) *
                          torch.sigmoid(22 * (orient - 0.5)))

    artefact = (m[0] > m[1]) & (m[0] > m[2])
    num = (1 - preservation(1)) * weight[1] + (1 - preservation(2)) * weight[2]
    return _sum_hw(num * artefact) / _sum_hw(weight[1] + weight[2])


def _ssim_pairwise(f: Tensor, refs: Tensor, data_range: float,
                   dtype: torch.dtype) -> Tensor:
    """skimage's legacy SSIM of ``f (N, H, W)`` against each plane of
    ``refs (N, K, H, W)``; returns ``(N, K)``."""
    k = refs.shape[1]
    x = f.to(dtype)
    y = refs.to(dtype)
    emulate = dtype == torch.float32
    # planes [x, y_1..k, x^2, y_1..k^2, x y_1..k], products exact for 8-bit
    maps = x.new_empty(x.shape[0], 3 * k + 2, *x.shape[1:])
    maps[:, 0] = x
    maps[:, 1:k + 1] = y
    torch.mul(x, x, out=maps[:, k + 1])
    torch.mul(y, y, out=maps[:, k + 2:2 * k + 2])
    torch.mul(y, x[:, None], out=maps[:, 2 * k + 2:])
    stats = box_mean_valid(maps, 7, scipy_float32=emulate)
    ux, uy = stats[:, :1], stats[:, 1:k + 1]
    uxx, uyy = stats[:, k + 1:k + 2], stats[:, k + 2:2 * k + 2]
    uxy = stats[:, 2 * k + 2:]
    # skimage's operation order, so that float32 rounds as it does
    cov_norm = 49. / 48.
    vx = cov_norm * (uxx - ux * ux)
    vy = cov_norm * (uyy - uy * uy)
    vxy = cov_norm * (uxy - ux * uy)
    c1 = (0.01 * data_range)**2
    c2 = (0.03 * data_range)**2
    a1 = 2 * ux * uy + c1
    a2 = 2 * vxy + c2
    b1 = ux * ux + uy * uy + c1
    b2 = vx + vy + c2
    return _mean_hw((a1 * a2) / (b1 * b2))


def _products(n_maps: int, base: Tensor, pairs: Sequence[tuple],
              ) -> Tensor:
    """``(N, len(base planes) + len(pairs), H, W)``: the planes of ``base``
    followed by the products ``base[:, i] * base[:, j]`` of ``pairs``,
    written into one preallocated tensor (no concatenation copies)."""
    k = base.shape[1]
    out = base.new_empty(base.shape[0], n_maps, *base.shape[2:])
    out[:, :k] = base
    for idx, (i, j) in enumerate(pairs):
        torch.mul(base[:, i], base[:, j], out=out[:, k + idx])
    return out


def _mef_ssim_single(seq: Tensor, f: Tensor, win: Tensor, size: int,
                     c: float) -> Tensor:
    """MEF-SSIM of ``f (N, H, W)`` against the source stack ``seq
    (N, K, H, W)`` at one scale (float64, centred data); returns ``(N,)``.

    Box statistics (MATLAB's sWindow) are exact sums; every quantity is
    written with ``ncov = size^2 cov`` (the squared norms of centred
    patches that the definition uses).
    """
    n, k = seq.shape[:2]
    eps = float(np.finfo(np.float64).eps)
    area = float(size * size)
    pairs = [(i, j) for i in range(k) for j in range(i, k)]
    pair_idx = {}
    for idx, (i, j) in enumerate(pairs):
        pair_idx[i, j] = pair_idx[j, i] = idx
    # box sums of the sources and their products
    sums = box_sum_valid(_products(k + len(pairs), seq, pairs), size)
    s1 = sums[:, :k]
    ncov = {}
    for (i, j), idx in ((p, pair_idx[p]) for p in pairs):
        ncov[i, j] = ncov[j, i] = (sums[:, k + idx] - s1[:, i] * s1[:, j] /
                                   area)
    norms = [torch.sqrt(ncov[i, i].clamp_min(0)) for i in range(k)]
    ed = torch.stack(norms, 1) + 0.001
    numerator = torch.sqrt(
        sum(ncov[i, j] for i in range(k) for j in range(k)).clamp_min(0))
    r = (numerator + eps) / (sum(norms) + eps)
    # tan in float64: float32(pi/2) lies beyond pi/2, its tangent negative
    p = torch.tan((math.pi / 2) * r.clamp(max=1 - eps)).clamp_max(10).float()
    wmap = (ed.float() / size)**p[:, None] + eps
    coef = (wmap / wmap.sum(1, keepdim=True)).double() / ed
    # Gaussian-window statistics of sources and fused image: planes
    # [X_0..X_k-1, F, X_i X_j (pairs), F^2, X_k F]
    stack = seq.new_empty(n, 2 * k + 2 + len(pairs), *seq.shape[2:])
    stack[:, :k] = seq
    stack[:, k] = f
    for idx, (i, j) in enumerate(pairs):
        torch.mul(seq[:, i], seq[:, j], out=stack[:, k + 1 + idx])
    torch.mul(f, f, out=stack[:, k + 1 + len(pairs)])
    torch.mul(seq, f[:, None], out=stack[:, k + 2 + len(pairs):])
    g = filter_valid(stack, win)
    mu = g[:, :k]
    mu_f = g[:, k]
    var_f = torch.addcmul(g[:, k + 1 + len(pairs)], mu_f, mu_f, value=-1)
    # A source that is constant in a window contributes exactly 0 there (the
    # box sums are exact, so its ncov is exactly 0); zeroing its Gaussian
    # covariances removes their rounding noise, which the rescaling below
    # would otherwise blow up where every source is flat. The quadratic forms
    # run over i <= j (symmetry), with fused multiply-adds.
    cl = [coef[:, i] * (ncov[i, i] > 0) for i in range(k)]
    var_r = norm2 = cov_rf = None
    for i in range(k):
        cross = torch.addcmul(g[:, k + 2 + len(pairs) + i], mu[:, i], mu_f,
                              value=-1)
        cov_rf = cross.mul_(cl[i]) if cov_rf is None else \
            cov_rf.addcmul_(cross, cl[i])
        for j in range(i, k):
            gcov = torch.addcmul(g[:, k + 1 + pair_idx[i, j]], mu[:, i],
                                 mu[:, j], value=-1)
            weight = cl[i] * cl[j] if i == j else cl[i] * (2 * cl[j])
            var_r = gcov.mul_(weight) if var_r is None else \
                var_r.addcmul_(gcov, weight)
            norm2 = ncov[i, j] * weight if norm2 is None else \
                norm2.addcmul_(ncov[i, j], weight)
    # MATLAB rescales the desired patch to norm max(ed) where its norm is
    # > 0; where it is 0, var_r and cov_rf are 0 and the scale is moot
    scale = ed.amax(1) / torch.sqrt(norm2.clamp_min_(0)).clamp_min_(1e-150)
    num = (2 * scale).mul_(cov_rf).add_(c)
    den = (scale * scale).mul_(var_r).add_(var_f).add_(c)
    return _mean_hw(num.div_(den))


def _downsample2(x: Tensor) -> Tensor:
    """MATLAB ``imfilter(x, ones(2)/4, 'symmetric', 'same')`` then every
    second row and column from the first."""
    if x.shape[-1] % 2:
        x = torch.cat([x, x[..., -1:]], -1)
    if x.shape[-2] % 2:
        x = torch.cat([x, x[..., -1:, :]], -2)
    return (x[..., 0::2, 0::2] + x[..., 1::2, 0::2] + x[..., 0::2, 1::2] +
            x[..., 1::2, 1::2]) / 4


_MEF_WIN = 11
_MEF_SIGMA = 1.5
_MEF_K = 0.03
_MS_WEIGHTS = (0.0448, 0.2856, 0.3001)


def mef_ssim(f: Tensor, a: Tensor, b: Tensor) -> Tensor:
    r"""MEF-SSIM (Ma, Zeng & Wang, TIP 2015) of F against the source stack
    {A, B}, as SeAFusion's ``mef_ssim.m``.

    In every 11x11 window the sources give a desired patch: its contrast is
    the largest source contrast :math:`\max_k \|X_k-\mu_k\|` (+0.001), its
    structure the weighted mean :math:`\sum_k w_k (X_k-\mu_k)/\|X_k-\mu_k\|`
    with :math:`w_k \propto (\|X_k-\mu_k\|/11)^p`, :math:`p = \min(\tan(\pi
    R/2), 10)` and R the consistency :math:`\|\sum_k (X_k-\mu_k)\| /
    \sum_k \|X_k-\mu_k\|`. The score is the mean over windows of
    :math:`(2\sigma_{rF}+C)/(\sigma_r^2+\sigma_F^2+C)`, Gaussian-weighted
    (11, sigma 1.5) statistics, :math:`C = (0.03 \cdot 255)^2`.
    """
    f, a, b = _centre(f.double(), a.double(), b.double())
    win = gaussian_kernel1d(_MEF_WIN, _MEF_SIGMA)
    return _mef_ssim_single(
        torch.stack([a, b], 1), f, win, _MEF_WIN, (_MEF_K * 255)**2)


def ms_ssim(f: Tensor, a: Tensor, b: Tensor,
            weights: Sequence[float] = _MS_WEIGHTS) -> Tensor:
    r"""MS-SSIM of the fusion literature: the multi-scale MEF-SSIM of F
    against {A, B} (SeAFusion's ``analysis_ms_ssim.m``, defaults): 3 scales,
    each the :func:`mef_ssim` score, the images halved between scales by a
    2x2 mean ('symmetric' border) and subsampling;
    :math:`\prod_l Q_l^{w_l}` with ``w = (0.0448, 0.2856, 0.3001)``
    normalised. A negative per-scale score (does not occur on real images)
    is taken as 0.
    """
    w = torch.tensor(weights, dtype=torch.float64, device=f.device)
    w = w / w.sum()
    f, a, b = _centre(f.double(), a.double(), b.double())
    seq = torch.stack([a, b], 1)
    win = gaussian_kernel1d(_MEF_WIN, _MEF_SIGMA)
    result = torch.ones(f.shape[0], dtype=torch.float64, device=f.device)
    for level in range(len(weights)):
        if level:
            seq = _downsample2(seq)
            f = _downsample2(f)
        q = _mef_ssim_single(seq, f, win, _MEF_WIN, (_MEF_K * 255)**2)
        result = result * q.clamp_min(0)**w[level]
    return result


def ssim(f: Tensor,
         a: Tensor,
         b: Tensor,
         mode: str = 'pairwise',
         reduction: str = 'sum',
         data_range: float = 2.0,
         dtype: str = 'float32') -> Tensor:
    r"""SSIM.

    ``mode='pairwise'`` (default): ``SSIM(F, A) + SSIM(F, B)``
    (``reduction='mean'``: half), each scikit-image's legacy
    ``structural_similarity``: 7x7 uniform window, K1 = 0.01, K2 = 0.03,
    sample covariances (x 49/48), C1 = (K1 L)^2, C2 = (K2 L)^2 with
    ``L = data_range`` (2: the library's old default for float images),
    :math:`S = \frac{(2\mu_x\mu_y+C_1)(2\sigma_{xy}+C_2)}
    {(\mu_x^2+\mu_y^2+C_1)(\sigma_x^2+\sigma_y^2+C_2)}` averaged over the
    windows inside the image. ``dtype='float32'`` reproduces the arithmetic
    of scikit-image >= 0.19 on the evaluator's float32 images (the
    published numbers); ``'float64'`` is the exact-arithmetic value (they
    differ by ~1e-4 relative because L = 2 makes C1, C2 tiny).

    ``mode='mef'``: :func:`mef_ssim` against {A, B} (MATLAB lineage);
    ``reduction``, ``data_range`` and ``dtype`` do not apply.
    """
    _check_option('ssim_mode', mode, ('pairwise', 'mef'))
    _check_option('ssim_reduction', reduction, ('sum', 'mean'))
    _check_option('ssim_dtype', dtype, ('float32', 'float64'))
    if mode == 'mef':
        return mef_ssim(f, a, b)
    torch_dtype = torch.float32 if dtype == 'float32' else torch.float64
    value = _ssim_pairwise(f, torch.stack([a, b], 1), float(data_range),
                           torch_dtype).sum(1)
    return value / 2 if reduction == 'mean' else value


def _as_batch(x, name: str, device) -> Tensor:
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(np.ascontiguousarray(x))
    if not isinstance(x, Tensor):
        raise TypeError(f'{name} must be a tensor or an array, got '
                        f'{type(x).__name__}')
    if x.dim() == 2:
        x = x[None]
    if x.dim() == 4 and x.shape[1] == 1:
        x = x[:, 0]
    if x.dim() != 3:
        raise ValueError(f'{name} must be (H, W), (N, H, W) or (N, 1, H, W) '
                         f'gray images, got shape {tuple(x.shape)}')
    if device is not None:
        x = x.to(device)
    return x.double()


def compute_fusion_metrics(fused,
                           ir,
                           vis,
                           metrics: Sequence[str] = ALL_METRICS,
                           device: Optional[Union[str,
                                                  torch.device]] = None,
                           chunk_size: Optional[int] = None,
                           num_workers: Optional[int] = None,
                           **options) -> Dict[str, Tensor]:
    """Compute fusion metrics of a batch of gray images.

    Args:
        fused, ir, vis: ``(N, H, W)`` (or ``(H, W)``, ``(N, 1, H, W)``)
            tensors or arrays on the 0-255 scale, the same shape; use
            :mod:`~mmfusion.evaluation.functional.image_io` to get them from
            files or from the model's output exactly as the de facto
            evaluator does. ``ir``/``vis`` may be ``None`` when only EN, SD,
            SF and AG are requested.
        metrics: names from :data:`ALL_METRICS` (aliases such as
            ``'MS-SSIM'`` accepted).
        device: where to compute (default: where ``fused`` is).
        chunk_size: images computed together; default 1 on CPU (the working
            set of one 640x480 image fits the caches, larger chunks run
            slower per image) and all of them on GPU.
        num_workers: CPU threads computing chunks in parallel (default:
            torch's intra-op thread count); on CPU the torch ops themselves
            run single-threaded during the call.
        **options: convention switches, see :data:`DEFAULT_OPTIONS` and
            ``docs/evaluation.md``.

    Returns:
        dict: metric name -> ``(N,)`` float64 tensor (on ``device``).
    """
    unknown = set(options) - set(DEFAULT_OPTIONS)
    if unknown:
        raise TypeError(f'unknown metric options {sorted(unknown)}; '
                        f'available: {sorted(DEFAULT_OPTIONS)}')
    opts = {**DEFAULT_OPTIONS, **options}
    names = [canonical_metric_name(m) for m in metrics]
    f = _as_batch(fused, 'fused', device)
    a = b = None
    if any(m not in REFERENCE_FREE_METRICS for m in names):
        a = _as_batch(ir, 'ir', f.device)
        b = _as_batch(vis, 'vis', f.device)
        if a.shape != f.shape or b.shape != f.shape:
            raise ValueError(
                f'fused {tuple(f.shape)}, IR {tuple(a.shape)} and VIS '
                f'{tuple(b.shape)} images must have the same shape')
    if chunk_size is None:
        chunk_size = len(f) if f.is_cuda else 1
    slices = [
        slice(i, i + max(1, chunk_size))
        for i in range(0, len(f), max(1, chunk_size))
    ]

    def run(sl):
        return _compute(f[sl], None if a is None else a[sl],
                        None if b is None else b[sl], names, opts)

    if f.is_cuda:
        chunks = [run(sl) for sl in slices]
        return {m: torch.cat([c[m] for c in chunks]) for m in names}
    # CPU: single-threaded torch ops, images in parallel threads. One image
    # is too small for intra-op threads to pay off, and their per-op
    # synchronisation is very costly on a busy machine; whole images in
    # separate threads need none (torch releases the GIL in its ops).
    threads = torch.get_num_threads()
    workers = min(num_workers or threads, len(slices))
    torch.set_num_threads(1)
    try:
        if workers > 1:
            with ThreadPoolExecutor(workers) as pool:
                chunks = list(pool.map(run, slices))
        else:
            chunks = [run(sl) for sl in slices]
    finally:
        torch.set_num_threads(threads)
    return {m: torch.cat([c[m] for c in chunks]) for m in names}


def _compute(f: Tensor, a: Optional[Tensor], b: Optional[Tensor],
             names: Sequence[str], opts: dict) -> Dict[str, Tensor]:
    fns = dict(
        EN=lambda: entropy(f),
        SD=lambda: standard_deviation(f),
        SF=lambda: spatial_frequency(f, opts['sf_scale']),
        AG=lambda: average_gradient(f),
        MI=lambda: mutual_information(f, a, b, opts['mi_base']),
        SCD=lambda: sum_of_correlation_differences(f, a, b),
        CC=lambda: correlation_coefficient(f, a, b),
        MSE=lambda: mean_squared_error(f, a, b),
        PSNR=lambda: psnr(f, a, b, opts['psnr_peak']),
        VIF=lambda: vif(f, a, b, opts['vif_reduction']),
        Qabf=lambda: qabf(f, a, b),
        Nabf=lambda: nabf(f, a, b, opts['nabf_scale']),
        SSIM=lambda: ssim(f, a, b, opts['ssim_mode'], opts['ssim_reduction'],
                          opts['ssim_data_range'], opts['ssim_dtype']),
        MS_SSIM=lambda: ms_ssim(f, a, b))
    return {name: fns[name]().double() for name in names}
