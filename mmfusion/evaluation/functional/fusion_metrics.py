# Copyright (c) mmfusion contributors. All rights reserved.
"""Statistical fusion metrics, vectorised in torch and batched over images:
the maths, and :data:`METRICS`, the one table of the metrics.

This is mmfusion's single implementation of the metrics: the registered
:class:`~mmfusion.evaluation.FusionMetric`, ``tools/analysis_tools/
eval_fused.py`` and the benchmark all call
:func:`~mmfusion.evaluation.functional.compute_fusion_metrics`
(:mod:`~mmfusion.evaluation.functional.batching`: chunks, threads, loading
in parallel), which calls the functions of this module through
:data:`METRICS` (name, function, direction, options, ...): every list of
metric names (:data:`ALL_METRICS`, :data:`LOWER_IS_BETTER`, ...) and the
options' defaults are read from it.

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
from typing import Any, Callable, Dict, NamedTuple, Optional, Sequence, Union

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from mmfusion.utils.image_filters import gaussian_kernel1d, ssim_maps
from .filters import box_mean_valid, box_sum_valid, filter_valid, sobel3

__all__ = [
    'METRICS', 'MetricSpec', 'ALL_METRICS', 'DE_FACTO_METRICS',
    'REFERENCE_FREE_METRICS', 'LOWER_IS_BETTER', 'DEFAULT_OPTIONS',
    'metrics_of_batch', 'entropy', 'standard_deviation', 'spatial_frequency',
    'average_gradient', 'mutual_information', 'sum_of_correlation_differences',
    'correlation_coefficient', 'mean_squared_error', 'psnr', 'vif', 'qabf',
    'nabf', 'ssim', 'mef_ssim', 'ms_ssim', 'canonical_metric_name',
    'parse_metric_names'
]


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
    """Integer valued in [0, 255] (three cheap passes per image, no boolean
    maps)."""
    for x in xs:
        if x.numel():
            lo, hi = torch.aminmax(x)
            if lo < 0 or hi > 255 or not torch.equal(x, x.round()):
                return False
    return True


def _dot_hw(x: Tensor, y: Tensor) -> Tensor:
    """``sum(x * y)`` over each image (float64), one BLAS dot per image."""
    if x.shape[0] == 1 and x.dtype == y.dtype == torch.float64 and \
            not x.is_cuda:
        return torch.dot(x.reshape(-1), y.reshape(-1)).view(1).double()
    return _sum_hw(x * y)


class _Shared:
    """Intermediate results that several metrics of one call use (centred
    images, their inner products, the 8-bit test, MSE), computed once, when
    first asked for. Every metric function takes one (``None``: its own)."""

    def __init__(self, f: Tensor, a: Optional[Tensor], b: Optional[Tensor]):
        self.images = dict(f=f, a=a, b=b)
        self._memo = {}

    def get(self, key, fn):
        if key not in self._memo:
            self._memo[key] = fn()
        return self._memo[key]

    def centred(self, name: str) -> Tensor:
        """The image minus its mean (``name``: 'f', 'a' or 'b')."""
        x = self.images[name]
        return self.get(('centred', name),
                        lambda: x - _mean_hw(x)[:, None, None])

    def inner(self, x: str, y: str) -> Tensor:
        """``sum((X - mean X)(Y - mean Y))`` per image."""
        key = ('inner', ) + tuple(sorted((x, y)))
        return self.get(key, lambda: _dot_hw(self.centred(x), self.centred(y)))

    def window_images(self) -> tuple:
        """F, A, B in float64 minus a common integer (:func:`_centre`), for
        the window statistics of VIF and MEF-SSIM."""
        return self.get(
            'window_images',
            lambda: _centre(*(self.images[n].double() for n in 'fab')))

    def mul(self, x: Tensor, y: Tensor) -> Tensor:
        """``x * y``, computed once per pair of tensors."""
        key = ('mul', ) + tuple(sorted((id(x), id(y))))
        return self.get(key, lambda: (x, y, x * y))[2]  # x, y kept alive

    def float32(self, name: str) -> Tensor:
        """The image in float32 (exact for 8-bit images)."""
        return self.get(('float32', name), lambda: self.images[name].float())

    def is_8bit(self, *names: str) -> bool:
        return all(
            self.get(('8bit', n), lambda n=n: _is_8bit(self.images[n]))
            for n in names)


def _shared(shared: Optional[_Shared], f, a=None, b=None) -> _Shared:
    return _Shared(f, a, b) if shared is None else shared


def _correlation(sxy: Tensor, sxx: Tensor, syy: Tensor) -> Tensor:
    """Pearson correlation from centred sums; 0 where either image is
    constant."""
    den = torch.sqrt(sxx * syy)
    return torch.where(den > 0, sxy / torch.where(den > 0, den, 1.), 0.)


def _pearson_diff(sh: _Shared, x: str, y: str, z: str) -> Tensor:
    """``r(X, Y - Z)``: ``Y - Z`` is centred itself (exactly 0 where it is
    constant)."""
    d = sh.images[y] - sh.images[z]
    d -= _mean_hw(d)[:, None, None]
    xc = sh.centred(x)
    return _correlation(_dot_hw(xc, d), sh.inner(x, x), _dot_hw(d, d))


# --------------------------------------------------------------------------
# metrics of the fused image alone
# --------------------------------------------------------------------------
def _plogp_sum(p: Tensor, dim) -> Tensor:
    return torch.special.xlogy(p, p).sum(dim)


def entropy(f: Tensor, shared: Optional[_Shared] = None) -> Tensor:
    r"""EN :math:`= -\sum_l p_l \log_2 p_l`, ``p`` the histogram of
    ``round(F)`` over its integer levels divided by ``H W`` (0 for a
    constant image)."""
    n = f.shape[0]
    if _shared(shared, f).is_8bit('f'):
        levels, nbins = f.to(torch.int32 if n < 2**23 else torch.int64), 256
    else:
        levels = f.round().long()
        lo = int(levels.min()) if levels.numel() else 0
        levels = levels - lo
        nbins = int(levels.max()) + 1 if levels.numel() else 1
    if n > 1:
        levels = levels + torch.arange(
            n, device=f.device, dtype=levels.dtype).view(-1, 1, 1) * nbins
    hist = torch.bincount(levels.flatten(), minlength=n * nbins)
    p = hist.view(n, nbins).double() / (f.shape[-2] * f.shape[-1])
    return -_plogp_sum(p, 1) / math.log(2)


def standard_deviation(f: Tensor, shared: Optional[_Shared] = None) -> Tensor:
    r"""SD :math:`= \sqrt{\frac{1}{HW}\sum (F-\mu)^2}` (population)."""
    return torch.sqrt(
        _shared(shared, f).inner('f', 'f') / (f.shape[-2] * f.shape[-1]))


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
    if f.is_cuda or f.dtype != torch.float64:
        gx = torch.cat([
            f[..., :, 1:2] - f[..., :, 0:1],
            (f[..., :, 2:] - f[..., :, :-2]) / 2,
            f[..., :, -1:] - f[..., :, -2:-1]
        ], -1)
        gy = torch.cat([
            f[..., 1:2, :] - f[..., 0:1, :],
            (f[..., 2:, :] - f[..., :-2, :]) / 2,
            f[..., -1:, :] - f[..., -2:-1, :]
        ], -2)
        return _mean_hw(torch.sqrt((gx * gx + gy * gy) / 2))
    # CPU: d = F[j+1] - F[j-1] with replicated borders, i.e. 2 Gx inside and
    # Gx at the borders (doubled there): (Gx^2 + Gy^2) / 2 = (dx^2 + dy^2) / 8
    values = []
    for x in f:
        x = x.contiguous().numpy()
        border = cv2.BORDER_REPLICATE
        dx = cv2.Sobel(x, -1, 1, 0, ksize=1, borderType=border)
        dy = cv2.Sobel(x, -1, 0, 1, ksize=1, borderType=border)
        dx[:, [0, -1]] *= 2
        dy[[0, -1]] *= 2
        np.multiply(dx, dx, out=dx)
        dx += dy * dy
        dx *= 1 / 8
        values.append(np.sqrt(dx, out=dx).sum(dtype=np.float64))
    return torch.tensor(
        values, dtype=torch.float64) / (
            f.shape[-2] * f.shape[-1])


# --------------------------------------------------------------------------
# metrics against the sources
# --------------------------------------------------------------------------
def _mi_8bit(f256: Tensor, x: Tensor) -> Tensor:
    """``I(F; X)`` of 8-bit images from ``f256 = 256 F``: the joint
    histogram by one ``bincount`` of ``256 F + X`` (exact in float64,
    converted once)."""
    n = f256.shape[0]
    hw = f256.shape[-2] * f256.shape[-1]
    idx = (f256 + x).to(torch.int32 if n < 32768 else torch.int64)
    if n > 1:
        idx += torch.arange(
            n, device=idx.device, dtype=idx.dtype).view(-1, 1, 1) * 65536
    joint = torch.bincount(
        idx.flatten(), minlength=n * 65536).view(n, 256, 256)
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


def mutual_information(f: Tensor,
                       a: Tensor,
                       b: Tensor,
                       base: Union[str, float] = 'e',
                       shared: Optional[_Shared] = None) -> Tensor:
    r"""MI :math:`= I(F;A) + I(F;B)`, :math:`I(X;Y) = \sum p_{xy}
    \log\frac{p_{xy}}{p_x p_y}` from the joint histogram in which every
    distinct value is a bin (sklearn's ``mutual_info_score``). ``base='e'``
    gives nats (the de facto evaluator), ``base=2`` bits (MATLAB lineage)."""
    if base not in ('e', 2, '2'):
        raise ValueError(f"mi_base must be 'e' or 2, got {base!r}")
    if _shared(shared, f, a, b).is_8bit('f', 'a', 'b'):
        f256 = f * 256
        value = _mi_8bit(f256, a) + _mi_8bit(f256, b)
    else:
        value = _mi_general(f, a) + _mi_general(f, b)
    return value / math.log(2) if base in (2, '2') else value


def sum_of_correlation_differences(f: Tensor,
                                   a: Tensor,
                                   b: Tensor,
                                   shared: Optional[_Shared] = None) -> Tensor:
    """SCD ``= r(A, F - B) + r(B, F - A)`` (``r`` Pearson; 0 for a constant
    image)."""
    sh = _shared(shared, f, a, b)
    return _pearson_diff(sh, 'a', 'f', 'b') + _pearson_diff(sh, 'b', 'f', 'a')


def correlation_coefficient(f: Tensor,
                            a: Tensor,
                            b: Tensor,
                            shared: Optional[_Shared] = None) -> Tensor:
    """CC ``= (r(A, F) + r(B, F)) / 2`` (``r`` is 0 for a constant
    image)."""
    sh = _shared(shared, f, a, b)
    ff = sh.inner('f', 'f')
    return (_correlation(sh.inner('a', 'f'), sh.inner('a', 'a'), ff) +
            _correlation(sh.inner('b', 'f'), sh.inner('b', 'b'), ff)) / 2


def mean_squared_error(f: Tensor,
                       a: Tensor,
                       b: Tensor,
                       shared: Optional[_Shared] = None) -> Tensor:
    """MSE ``= (mean((A - F)^2) + mean((B - F)^2)) / 2``."""

    def mse():
        da = a - f
        db = b - f
        return (_dot_hw(da, da) + _dot_hw(db, db)) / (2 * f.shape[-2] *
                                                      f.shape[-1])

    return _shared(shared, f, a, b).get('MSE', mse)


def psnr(f: Tensor,
         a: Tensor,
         b: Tensor,
         peak: Union[str, float] = 'max',
         shared: Optional[_Shared] = None) -> Tensor:
    """PSNR ``= 10 log10(P^2 / MSE)`` with ``P = max(F)`` (de facto) or a
    fixed ``peak`` such as 255. ``+inf`` when MSE is 0, ``-inf`` when
    ``P = 0`` (an all-black fused image)."""
    m = mean_squared_error(f, a, b, shared)
    if peak == 'max':
        p = f.flatten(1).amax(1).double()
    else:
        p = torch.full_like(m, float(peak))
    value = 10 * torch.log10(p * p / m)
    return torch.where(m == 0, math.inf, value)


def _vifp_scales(refs: Sequence[Tensor],
                 dist: Tensor,
                 sigma_nsq: float = 2.,
                 eps: float = 1e-10,
                 mul=torch.mul) -> Tensor:
    """VIFp of every reference ``refs`` (K planes ``(N, H, W)``) against
    ``dist (N, H, W)``, 4 scales; returns ``(N, K)``.

    Window statistics are float64 (``E[x^2] - E[x]^2`` needs it); the
    per-pixel terms that follow are float32, which changes VIF by < 1e-6
    relative and halves the time. ``mul`` forms the products at the first
    scale (shared with MEF-SSIM).
    """
    k = len(refs)
    # the float32 number below float32(eps): for float32 x, x > it <=>
    # x >= eps
    eps_below = float(np.nextafter(np.float32(eps), np.float32(0)))
    num = [0.] * k
    den = [0.] * k
    ln10 = math.log(10)
    for scale in range(1, 5):
        size = 2**(5 - scale) + 1
        win = gaussian_kernel1d(size, size / 5., matlab=True)
        if scale > 1:
            refs = [filter_valid(x, win, stride=2).contiguous() for x in refs]
            dist = filter_valid(dist, win, stride=2).contiguous()
            mul = torch.mul
        mu2 = filter_valid(dist, win)
        s2 = filter_valid(mul(dist, dist), win).addcmul_(
            mu2, mu2, value=-1).clamp_min_(0).float()
        s2_ok = (s2 >= eps).float()
        for i, ref in enumerate(refs):
            mu1 = filter_valid(ref, win)
            s1 = filter_valid(mul(ref, ref), win).addcmul_(
                mu1, mu1, value=-1).clamp_min_(0).float()
            s12 = filter_valid(mul(ref, dist), win).addcmul_(
                mu1, mu2, value=-1).float()
            del mu1
            # The evaluator's case analysis, folded: the numerator term is
            # non-zero only where sigma1^2, sigma2^2 >= eps and g > 0 (where
            # sigma1^2 < eps it is zeroed with sigma1^2, whatever g); the
            # denominator term only where sigma1^2 >= eps. (No boolean
            # masks in the per-reference work: their kernels are slow on
            # CPU; threshold keeps x > t, i.e. x >= eps.)
            s1 = F.threshold(s1, eps_below, 0.)
            g = torch.relu(s12).mul_(s2_ok).div_(s1 + eps)
            sv = torch.addcmul(s2, g, s12, value=-1).clamp_min_(eps)
            term = g.mul_(g).mul_(s1).div_(sv.add_(sigma_nsq))
            num[i] = num[i] + _sum_hw(_ufunc('log1p', term)) / ln10
            den[i] = den[i] + _sum_hw(_ufunc('log1p',
                                             s1.div_(sigma_nsq))) / ln10
    value = torch.stack([n / d for n, d in zip(num, den)], 1)
    return torch.where(torch.isnan(value), 1., value)


def _centre(*xs: Tensor) -> tuple:
    """Subtract a per-image integer constant (the rounded mean of ``A``):
    VIF and MEF-SSIM only use (co)variances, which are shift invariant, and
    small magnitudes keep ``E[x^2] - E[x]^2`` accurate and exactly 0 on
    constant windows."""
    c = _mean_hw(xs[0]).round().to(xs[0].dtype).view(-1, 1, 1)
    return tuple(x - c for x in xs)


def vif(f: Tensor,
        a: Tensor,
        b: Tensor,
        reduction: str = 'sum',
        shared: Optional[_Shared] = None) -> Tensor:
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
    sh = _shared(shared, f, a, b)
    f, a, b = sh.window_images()
    value = _vifp_scales([a, b], f, mul=sh.mul).sum(1)
    return value / 2 if reduction == 'mean' else value


def _orientation(y: Tensor, x: Tensor, zero_x: str) -> Tensor:
    """``atan(y / x)`` in [-pi/2, pi/2] where ``x != 0``; where ``x == 0``:
    ``pi/2`` (``zero_x='pi/2'``) or ``atan2(y, 0)``, i.e. ``sign(y) pi/2``
    (``zero_x='sign'``). One ``atan2`` of ``y sign(x)`` (or of 1 /
    ``y`` where ``x == 0``) and ``|x|``; no boolean masks (their kernels are
    slow on CPU): ``1 - sign(x)^2`` is the indicator of ``x == 0``."""
    s = torch.sign(x)
    zero = 1 - s * s
    if zero_x == 'pi/2':
        y = torch.addcmul(zero, y, s)
    else:
        y = y * s.add_(zero)
    return _ufunc('arctan2', y, x.abs())


def _qabf_preservation(m_x, g_x, a_x, m_f, g_f, a_f) -> Tensor:
    # min/max ratio where the strengths differ, g_F where they are equal
    # (m are integers: |m_x - m_f| clamped at 1 is the indicator of
    # 'differ'; lerp with weight 0 / 1 gives exactly g_F / the ratio)
    differ = (m_x - m_f).abs_().clamp_max_(1)
    ratio = torch.minimum(g_x, g_f).div_(torch.maximum(g_x, g_f).clamp_min_(1))
    ratio = torch.lerp(g_f, ratio, differ)
    orient = 1 - (a_x - a_f).abs_().mul_(2 / math.pi)
    q = torch.sigmoid(ratio.sub_(0.5).mul_(15))
    return q.mul_(torch.sigmoid(orient.sub_(0.8).mul_(22))).mul_(0.9994 *
                                                                 0.9879)


def qabf(f: Tensor,
         a: Tensor,
         b: Tensor,
         shared: Optional[_Shared] = None) -> Tensor:
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
    # True convolution with Sx = [[-1,0,1],[-2,0,2],[-1,0,1]] is correlation
    # with its flip, i.e. S_x = -d/dx; Sy = [[1,2,1],[0,0,0],[-1,-2,-1]]
    # flipped is d/dy: alpha = atan(d/dy / -d/dx).
    sh = _shared(shared, f, a, b)
    edges = []
    for x in 'fab':
        dx, dy = sobel3(sh.float32(x), 'zeros')
        m = dx * dx
        m.addcmul_(dy, dy)
        edges.append((m, _ufunc('sqrt',
                                m), _orientation(dy.neg_(), dx, 'pi/2')))
    (_, g_a, _), (_, g_b, _) = edges[1:]
    num = _sum_hw(_qabf_preservation(*edges[1], *edges[0]).mul_(g_a)) + \
        _sum_hw(_qabf_preservation(*edges[2], *edges[0]).mul_(g_b))
    den = _sum_hw(g_a) + _sum_hw(g_b)
    return num / den.clamp_min(1)  # 0 when the sources have no gradient


def nabf(f: Tensor,
         a: Tensor,
         b: Tensor,
         scale: str = 'unit',
         shared: Optional[_Shared] = None) -> Tensor:
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
    unit = 255. if scale == 'unit' else 1.
    sh = _shared(shared, f, a, b)
    m, alpha = [], []
    for x in 'fab':
        gv, gh = sobel3(sh.float32(x), 'reflect')  # d/dx, d/dy: 8x MATLAB's
        mx = gv * gv
        m.append(mx.addcmul_(gh, gh))
        alpha.append(_orientation(gv, gh, 'sign'))
    # the artefact indicator n = [m_F > max(m_A, m_B)] (integers: the
    # difference clamped to [0, 1]; no boolean kernels)
    artefact = (m[0] - torch.maximum(m[1], m[2])).clamp_(0, 1)
    # g >= 2 <=> m >= (16 unit)^2 (m, the squared 8x strength, is exact)
    strong = [bool(mx.max() >= (16 * unit)**2) for mx in m[1:]]

    def loss(i):
        """``1 - Q_XF``; ``m`` are integers: the ratio is 0 where either
        strength is 0."""
        ratio = _ufunc(
            'sqrt',
            torch.minimum(m[i],
                          m[0]).div_(torch.maximum(m[i], m[0]).clamp_min_(1)))
        orient = (alpha[i] - alpha[0]).abs_().sub_(math.pi / 2).abs_().mul_(
            2 / math.pi)
        q = torch.sigmoid(ratio.sub_(0.5).mul_(19))
        q.mul_(torch.sigmoid(orient.sub_(0.5).mul_(22))).mul_(0.9999 * 0.9995)
        return 1 - _ufunc('sqrt', q)

    if not any(strong):
        # every weight is 0.001 (always so for scale='unit'): they cancel
        num = loss(1).add_(loss(2)).mul_(artefact)
        return _sum_hw(num) / (2 * f.shape[-2] * f.shape[-1])
    weights = []
    for mx in m[1:]:
        g = _ufunc('sqrt', mx).mul_(1 / (8. * unit))
        strong_x = (mx >= (16 * unit)**2).float()
        weights.append(
            torch.addcmul(
                torch.full_like(g, 0.001), strong_x,
                g * _ufunc('sqrt', g) - 0.001))
    num = loss(1).mul_(weights[0]).addcmul_(loss(2), weights[1])
    return _sum_hw(num.mul_(artefact)) / _sum_hw(weights[0] + weights[1])


def _ssim_pairwise(f: Tensor, refs: Sequence[Tensor], data_range: float,
                   dtype: torch.dtype) -> Tensor:
    """skimage's legacy SSIM of ``f (N, H, W)`` against each of the planes
    ``refs`` (``(N, H, W)`` each); returns ``(N, K)``."""
    emulate = dtype == torch.float32

    def box(v):  # products are exact for 8-bit images
        return box_mean_valid(v, 7, scipy_float32=emulate)

    # 7x7 sample covariances; ssim_maps keeps skimage's operation order, so
    # that float32 rounds as it does
    maps = ssim_maps(
        f.to(dtype), [ref.to(dtype) for ref in refs],
        box, (0.01 * data_range)**2, (0.03 * data_range)**2,
        cov_norm=49. / 48.)
    return torch.stack([_mean_hw(m) for m in maps], 1)


def _ufunc(name: str, *xs: Tensor) -> Tensor:
    """numpy's ufunc ``name`` on CPU tensors (its SIMD transcendentals are
    3-5x faster than torch's on CPU, float64 included), torch's on CUDA."""
    if xs[0].is_cuda:
        return getattr(torch, _TORCH_UFUNCS.get(name, name))(*xs)
    return torch.from_numpy(getattr(np, name)(*(x.numpy() for x in xs)))


_TORCH_UFUNCS = dict(power='pow', arctan2='atan2')


def _mef_ssim_single(seq: Sequence[Tensor],
                     f: Tensor,
                     win: Tensor,
                     size: int,
                     c: float,
                     mul=torch.mul) -> Tensor:
    """MEF-SSIM of ``f (N, H, W)`` against the sources ``seq`` (K planes
    ``(N, H, W)``) at one scale (float64, centred data); returns ``(N,)``.

    Box statistics (MATLAB's sWindow) are exact: ``m_ij = size^2 S_ij -
    s_i s_j`` (``s``, ``S``: box sums of ``X_i`` and ``X_i X_j``) are
    integers for 8-bit images, ``size^2`` times the inner products of the
    centred patches that the definition uses. The desired patch only enters
    through its direction (it is rescaled to norm ``max(ed)``), so the
    source weights need no normalisation. No boolean masks (their kernels
    are slow on CPU): ``sign`` of a non-negative quantity is its indicator.
    ``mul`` forms the products (shared with VIF at the first scale).
    """
    k = len(seq)
    eps = float(np.finfo(np.float64).eps)
    pairs = [(i, j) for i in range(k) for j in range(i, k)]
    prod = {(i, j): mul(seq[i], seq[j]) for i, j in pairs}
    # exact box statistics (in-place on the filters' fresh outputs)
    s = [box_sum_valid(x, size) for x in seq]
    m = {}
    for i, j in pairs:
        m[i, j] = box_sum_valid(prod[i, j], size).mul_(size * size).addcmul_(
            s[i], s[j], value=-1)
    del s
    for i in range(k):
        m[i, i].clamp_min_(0)
    # per-window source weights: contrast ed_i = |X_i - mu_i| + 0.001 and
    # consistency R = |sum_i (X_i - mu_i)| / sum_i |X_i - mu_i| (norms are
    # size times the square roots of m)
    roots = [_ufunc('sqrt', m[i, i]) for i in range(k)]
    total = sum(m[i, j] if i == j else 2 * m[i, j] for i, j in pairs)
    den = roots[0] + size * eps
    for root in roots[1:]:
        den.add_(root)
    r = _ufunc('sqrt', total.clamp_min_(0)).add_(size * eps).div_(den)
    p = _ufunc('tan', r.clamp_(max=1 - eps).mul_(math.pi / 2)).clamp_max_(10)
    del total, den, r
    ed = [root.div_(size).add_(0.001) for root in roots]
    # u_i ~ w_i / ed_i, zero where X_i is constant (m_ii is exactly 0; this
    # removes the rounding noise of its Gaussian statistics, which the
    # rescaling below would blow up where every source is flat)
    u = [
        _ufunc('power', e / size,
               p).add_(eps).div_(e).mul_(torch.sign(m[i, i]))
        for i, e in enumerate(ed)
    ]
    del p
    ed_max = ed[0]
    for e in ed[1:]:
        ed_max = torch.maximum(ed_max, e)
    del ed
    # Gaussian-window statistics; the quadratic forms run over i <= j
    mu = [filter_valid(x, win) for x in seq]
    mu_f = filter_valid(f, win)
    var_f = filter_valid(mul(f, f), win).addcmul_(mu_f, mu_f, value=-1)
    cov_rf = var_r = q = None
    for i in range(k):
        cross = filter_valid(mul(seq[i], f), win).addcmul_(
            mu[i], mu_f, value=-1)
        cov_rf = cross.mul_(u[i]) if cov_rf is None else \
            cov_rf.addcmul_(cross, u[i])
    del mu_f
    for i, j in pairs:
        gcov = filter_valid(prod[i, j], win).addcmul_(mu[i], mu[j], value=-1)
        weight = u[i] * u[i] if i == j else u[i] * u[j] * 2
        var_r = gcov.mul_(weight) if var_r is None else \
            var_r.addcmul_(gcov, weight)
        q = m[i, j].mul_(weight) if q is None else q.addcmul_(m[i, j], weight)
    del mu, m, prod, u
    # MATLAB rescales the desired patch to norm max(ed) where its norm
    # sqrt(q) / size is > 0, i.e. by size * ed_max / sqrt(q); where q is 0,
    # var_r and cov_rf are 0 too and any finite scale will do (1e-290 keeps
    # scale^2 finite)
    scale = q.clamp_min_(1e-290).pow_(-0.5).mul_(ed_max)
    num = cov_rf.mul_(scale).mul_(2 * size).add_(c)
    den = var_f.add_(c).addcmul_(var_r, scale.mul_(scale), value=size * size)
    return _mean_hw(num.div_(den))


def _downsample2(x: Tensor) -> Tensor:
    """MATLAB ``imfilter(x, ones(2)/4, 'symmetric', 'same')`` then every
    second row and column from the first."""
    if not x.is_cuda and x.dtype in (torch.float32, torch.float64) and \
            x.dim() == 3 and len(x) == 1 and not x.shape[-1] % 2 and \
            not x.shape[-2] % 2:
        # OpenCV's 2x2 area mean, one pass: the same sums (exact on the
        # dyadic values of 8-bit images) times 1/4
        return torch.from_numpy(
            cv2.resize(
                x[0].contiguous().numpy(),
                (x.shape[-1] // 2, x.shape[-2] // 2),
                interpolation=cv2.INTER_AREA))[None]
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


def mef_ssim(f: Tensor,
             a: Tensor,
             b: Tensor,
             shared: Optional[_Shared] = None) -> Tensor:
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
    sh = _shared(shared, f, a, b)
    f, a, b = sh.window_images()
    win = gaussian_kernel1d(_MEF_WIN, _MEF_SIGMA, matlab=True)
    return _mef_ssim_single([a, b], f, win, _MEF_WIN, (_MEF_K * 255)**2,
                            sh.mul)


def ms_ssim(f: Tensor,
            a: Tensor,
            b: Tensor,
            weights: Sequence[float] = _MS_WEIGHTS,
            shared: Optional[_Shared] = None) -> Tensor:
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
    sh = _shared(shared, f, a, b)
    f, a, b = sh.window_images()
    seq = [a, b]
    win = gaussian_kernel1d(_MEF_WIN, _MEF_SIGMA, matlab=True)
    result = torch.ones(f.shape[0], dtype=torch.float64, device=f.device)
    for level in range(len(weights)):
        if level:
            seq = [_downsample2(x) for x in seq]
            f = _downsample2(f)
        q = _mef_ssim_single(seq, f, win, _MEF_WIN, (_MEF_K * 255)**2,
                             torch.mul if level else sh.mul)
        result = result * q.clamp_min(0)**w[level]
    return result


def ssim(f: Tensor,
         a: Tensor,
         b: Tensor,
         mode: str = 'pairwise',
         reduction: str = 'sum',
         data_range: float = 2.0,
         dtype: str = 'float32',
         shared: Optional[_Shared] = None) -> Tensor:
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
        return mef_ssim(f, a, b, shared)
    if dtype == 'float32':
        sh = _shared(shared, f, a, b)
        f, a, b = (sh.float32(x) for x in 'fab')
    torch_dtype = torch.float32 if dtype == 'float32' else torch.float64
    value = _ssim_pairwise(f, [a, b], float(data_range), torch_dtype).sum(1)
    return value / 2 if reduction == 'mean' else value


# --------------------------------------------------------------------------
# the table of the metrics
# --------------------------------------------------------------------------
class MetricSpec(NamedTuple):
    """One metric of :data:`METRICS`.

    Attributes:
        fn: the function; called ``fn(F, **options)`` for a metric of the
            fused image alone, else ``fn(F, A, B, **options)``, and with
            ``shared=`` the call's shared intermediates when
            ``takes_shared``.
        higher_is_better: the direction (``False``: lower is better).
        needs_sources: ``False`` for a metric of the fused image alone.
        de_facto: one of the de facto evaluator's metrics (their order is
            the table's).
        options: convention switch -> ``(argument of fn, default)``; see
            ``docs/evaluation.md`` section 4.
        aliases: other spellings :func:`canonical_metric_name` accepts.
        takes_shared: ``fn`` takes ``shared``.
    """
    fn: Callable[..., Tensor]
    higher_is_better: bool = True
    needs_sources: bool = True
    de_facto: bool = True
    options: Dict[str, tuple] = {}
    aliases: tuple = ()
    takes_shared: bool = True


#: Every metric mmfusion computes, in the de facto evaluator's order (its 12
#: metrics) followed by the others: name -> :class:`MetricSpec`.
METRICS: Dict[str, MetricSpec] = dict(
    EN=MetricSpec(entropy, needs_sources=False),
    SD=MetricSpec(standard_deviation, needs_sources=False),
    SF=MetricSpec(
        spatial_frequency,
        needs_sources=False,
        options=dict(sf_scale=('scale', '255')),
        takes_shared=False),
    AG=MetricSpec(average_gradient, needs_sources=False, takes_shared=False),
    MI=MetricSpec(mutual_information, options=dict(mi_base=('base', 'e'))),
    SCD=MetricSpec(sum_of_correlation_differences),
    VIF=MetricSpec(vif, options=dict(vif_reduction=('reduction', 'sum'))),
    Qabf=MetricSpec(qabf, aliases=('QABF', 'Q_ABF')),
    SSIM=MetricSpec(
        ssim,
        options=dict(
            ssim_mode=('mode', 'pairwise'),
            ssim_reduction=('reduction', 'sum'),
            ssim_data_range=('data_range', 2.0),
            ssim_dtype=('dtype', 'float32'))),
    PSNR=MetricSpec(psnr, options=dict(psnr_peak=('peak', 'max'))),
    MSE=MetricSpec(mean_squared_error, higher_is_better=False),
    CC=MetricSpec(correlation_coefficient),
    Nabf=MetricSpec(
        nabf,
        higher_is_better=False,
        de_facto=False,
        options=dict(nabf_scale=('scale', 'unit')),
        aliases=('NABF', 'N_ABF')),
    MS_SSIM=MetricSpec(ms_ssim, de_facto=False, aliases=('MS-SSIM', 'MSSSIM')))

#: The metrics of the de facto evaluator, in its order.
DE_FACTO_METRICS = tuple(n for n, m in METRICS.items() if m.de_facto)
#: Everything mmfusion computes.
ALL_METRICS = tuple(METRICS)
#: Metrics of the fused image alone.
REFERENCE_FREE_METRICS = tuple(n for n, m in METRICS.items()
                               if not m.needs_sources)
#: Lower is better for these (the others: higher is better).
LOWER_IS_BETTER = tuple(n for n, m in METRICS.items()
                        if not m.higher_is_better)
#: The de facto convention; see ``docs/evaluation.md`` for each option.
DEFAULT_OPTIONS: Dict[str, Any] = {
    key: default
    for m in METRICS.values()
    for key, (_, default) in m.options.items()
}
_ALIASES = {alias: n for n, m in METRICS.items() for alias in m.aliases}


def metrics_of_batch(f: Tensor, a: Optional[Tensor], b: Optional[Tensor],
                     names: Sequence[str],
                     options: Dict[str, Any]) -> Dict[str, Tensor]:
    """The metrics ``names`` (canonical) of one batch: ``(N, H, W)`` float64
    tensors (``a``, ``b`` ``None`` when only metrics of the fused image are
    asked for), every option of :data:`DEFAULT_OPTIONS` in ``options``;
    intermediates that several metrics use are computed once. Returns name
    -> ``(N,)`` float64 tensor."""
    sh = _Shared(f, a, b)
    out = {}
    for name in names:
        m = METRICS[name]
        kwargs = {arg: options[key] for key, (arg, _) in m.options.items()}
        if m.takes_shared:
            kwargs['shared'] = sh
        images = (f, a, b) if m.needs_sources else (f, )
        out[name] = m.fn(*images, **kwargs).double()
    return out
