# Copyright (c) mmfusion contributors. All rights reserved.
"""A plain, per-image numpy/scipy implementation of the fusion metrics.

It follows the definitions of ``docs/evaluation.md`` (the de facto convention
of the field) literally, one image at a time, with 2-D kernels and explicit
patches where the definition uses them. It exists for two reasons:

* as an independent cross-check of the vectorised torch implementation in
  :mod:`mmfusion.evaluation.functional.fusion_metrics` (the tests compare the
  two on real pairs), and
* as the per-image baseline of ``tools/analysis_tools/benchmark_metrics.py``.

Use :func:`mmfusion.evaluation.functional.compute_fusion_metrics` for real
work: it is the same mathematics, batched and one to two orders of magnitude
faster. Every function takes ``H x W`` float arrays on the 0-255 scale (F =
fused, A = infrared, B = visible).
"""
import math
from typing import Dict, Sequence

import numpy as np
from scipy import ndimage, signal

__all__ = [
    'en', 'sd', 'sf', 'ag', 'mi', 'scd', 'cc', 'mse', 'psnr', 'vif', 'qabf',
    'nabf', 'ssim', 'mef_ssim', 'ms_ssim', 'compute_all'
]


def gaussian_window(size: int, sigma: float) -> np.ndarray:
    """MATLAB ``fspecial('gaussian')``: entries below eps * max are zeroed,
    then the window is normalised to sum 1."""
    half = (size - 1) / 2.
    y, x = np.mgrid[-half:half + 1, -half:half + 1]
    h = np.exp(-(x * x + y * y) / (2. * sigma * sigma))
    h[h < np.finfo(h.dtype).eps * h.max()] = 0
    return h / h.sum()


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    x = x - x.mean()
    y = y - y.mean()
    den = math.sqrt(float((x * x).sum()) * float((y * y).sum()))
    return float((x * y).sum()) / den if den > 0 else 0.0


def en(f):
    hist = np.bincount(np.round(f).astype(np.int64).ravel()) / f.size
    p = hist[hist > 0]
    return float(-(p * np.log2(p)).sum())


def sd(f):
    return float(np.std(f))


def sf(f, scale: str = '255'):
    if scale == 'unit':
        f = f / 255.
    rf = np.mean((f[:, 1:] - f[:, :-1])**2)
    cf = np.mean((f[1:, :] - f[:-1, :])**2)
    return float(np.sqrt(rf + cf))


def ag(f):
    gx = np.empty_like(f)
    gy = np.empty_like(f)
    gx[:, 0] = f[:, 1] - f[:, 0]
    gx[:, -1] = f[:, -1] - f[:, -2]
    gx[:, 1:-1] = (f[:, 2:] - f[:, :-2]) / 2
    gy[0] = f[1] - f[0]
    gy[-1] = f[-1] - f[-2]
    gy[1:-1] = (f[2:] - f[:-2]) / 2
    return float(np.mean(np.sqrt((gx * gx + gy * gy) / 2)))


def _mi_pair(x, y, base):
    _, xi = np.unique(x.ravel(), return_inverse=True)
    _, yi = np.unique(y.ravel(), return_inverse=True)
    ny = int(yi.max()) + 1
    joint = np.bincount(xi * ny + yi).astype(np.float64) / x.size
    joint = joint.reshape(-1, ny) if joint.size % ny == 0 else np.pad(
        joint, (0, ny - joint.size % ny)).reshape(-1, ny)
    px = joint.sum(1, keepdims=True)
    py = joint.sum(0, keepdims=True)
    nz = joint > 0
    value = float((joint[nz] * np.log(joint[nz] / (px * py)[nz])).sum())
    return value / math.log(base) if base != 'e' else value


def mi(f, a, b, base='e'):
    return _mi_pair(f, a, base) + _mi_pair(f, b, base)


def scd(f, a, b):
    return _pearson(a, f - b) + _pearson(b, f - a)


def cc(f, a, b):
    return (_pearson(a, f) + _pearson(b, f)) / 2


def mse(f, a, b):
    return float((np.mean((a - f)**2) + np.mean((b - f)**2)) / 2)


def psnr(f, a, b, peak='max'):
    m = mse(f, a, b)
    if m == 0:
        return math.inf
    p = float(f.max()) if peak == 'max' else float(peak)
    return 10 * math.log10(p * p / m) if p > 0 else -math.inf


def _vifp(ref, dist, sigma_nsq=2., eps=1e-10):
    num = den = 0.
    for scale in range(1, 5):
        n = 2**(5 - scale) + 1
        win = gaussian_window(n, n / 5.)
        if scale > 1:
            ref = signal.correlate2d(ref, win, mode='valid')[::2, ::2]
            dist = signal.correlate2d(dist, win, mode='valid')[::2, ::2]
        mu1 = signal.correlate2d(ref, win, mode='valid')
        mu2 = signal.correlate2d(dist, win, mode='valid')
        s1 = signal.correlate2d(ref * ref, win, mode='valid') - mu1 * mu1
        s2 = signal.correlate2d(dist * dist, win, mode='valid') - mu2 * mu2
        s12 = signal.correlate2d(ref * dist, win, mode='valid') - mu1 * mu2
        s1 = np.maximum(s1, 0)
        s2 = np.maximum(s2, 0)
        g = s12 / (s1 + eps)
        sv = s2 - g * s12
        flat1 = s1 < eps
        g[flat1] = 0
        sv[flat1] = s2[flat1]
        s1[flat1] = 0
        flat2 = s2 < eps
        g[flat2] = 0
        sv[flat2] = 0
        neg = g < 0
        sv[neg] = s2[neg]
        g[neg] = 0
        sv[sv <= eps] = eps
        num += np.sum(np.log10(1 + g * g * s1 / (sv + sigma_nsq)))
        den += np.sum(np.log10(1 + s1 / sigma_nsq))
    value = num / den if den != 0 else math.nan
    return 1.0 if math.isnan(value) else float(value)


def vif(f, a, b, reduction='sum'):
    total = _vifp(a, f) + _vifp(b, f)
    return total / 2 if reduction == 'mean' else total


_SOBEL_X = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float64)
_SOBEL_Y = np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], np.float64)


def _qabf_edges(x):
    sx = signal.convolve2d(x, _SOBEL_X, mode='same')
    sy = signal.convolve2d(x, _SOBEL_Y, mode='same')
    g = np.sqrt(sx * sx + sy * sy)
    alpha = np.full_like(x, math.pi / 2)
    nz = sx != 0
    alpha[nz] = np.arctan(sy[nz] / sx[nz])
    return g, alpha


def _qabf_q(gx, ax, gf, af):
    ratio = np.where(gx > gf, gf / np.where(gx > gf, gx, 1),
                     np.where(gx < gf, gx / np.where(gx < gf, gf, 1), gf))
    orient = 1 - np.abs(ax - af) / (math.pi / 2)
    qg = 0.9994 / (1 + np.exp(-15 * (ratio - 0.5)))
    qa = 0.9879 / (1 + np.exp(-22 * (orient - 0.8)))
    return qg * qa


def qabf(f, a, b):
    ga, aa = _qabf_edges(a)
    gb, ab = _qabf_edges(b)
    gf, af = _qabf_edges(f)
    den = float(np.sum(ga + gb))
    if den == 0:
        return 0.0
    num = np.sum(_qabf_q(ga, aa, gf, af) * ga + _qabf_q(gb, ab, gf, af) * gb)
    return float(num / den)


def _nabf_edges(x):
    ext = np.pad(x, 1, mode='reflect')
    kx = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float64) / 8
    gv = ndimage.correlate(ext, kx, mode='constant')[1:-1, 1:-1]
    gh = ndimage.correlate(ext, kx.T, mode='constant')[1:-1, 1:-1]
    g = np.sqrt(gh * gh + gv * gv)
    with np.errstate(divide='ignore', invalid='ignore'):
        alpha = np.where((gv == 0) & (gh == 0), 0., np.arctan(gv / gh))
    return g, alpha


def nabf(f, a, b, scale='unit'):
    # Edges of the 0-255 images (Sobel / 8 is exact there, so ties compare
    # exactly); 'unit' only rescales the strength used for the weights.
    ga, aa = _nabf_edges(a)
    gb, ab = _nabf_edges(b)
    gf, af = _nabf_edges(f)

    def q(gx, ax):
        with np.errstate(divide='ignore', invalid='ignore'):
            ratio = np.where((gx == 0) | (gf == 0), 0.,
                             np.minimum(gx, gf) / np.maximum(gx, gf))
        orient = np.abs(np.abs(ax - af) - math.pi / 2) * 2 / math.pi
        qg = 0.9999 / (1 + np.exp(-19 * (ratio - 0.5)))
        qa = 0.9995 / (1 + np.exp(-22 * (orient - 0.5)))
        return np.sqrt(qg * qa)

    unit = 255. if scale == 'unit' else 1.
    wa = np.where(ga / unit >= 2, (ga / unit)**1.5, 0.001)
    wb = np.where(gb / unit >= 2, (gb / unit)**1.5, 0.001)
    artefact = (gf > ga) & (gf > gb)
    num = np.sum(artefact * ((1 - q(ga, aa)) * wa + (1 - q(gb, ab)) * wb))
    return float(num / np.sum(wa + wb))


def _ssim_pair(x, y, data_range, dtype):
    x = x.astype(dtype)
    y = y.astype(dtype)

    def box(v):
        return ndimage.uniform_filter(v, size=7)

    ux, uy = box(x), box(y)
    uxx, uyy, uxy = box(x * x), box(y * y), box(x * y)
    cov_norm = 49 / 48
    vx = cov_norm * (uxx - ux * ux)
    vy = cov_norm * (uyy - uy * uy)
    vxy = cov_norm * (uxy - ux * uy)
    c1 = (0.01 * data_range)**2
    c2 = (0.03 * data_range)**2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) *
                                                 (vx + vy + c2))
    return float(s[3:-3, 3:-3].mean(dtype=np.float64))


def _mef_ssim_level(seq, f, k=0.03, win=None):
    """MEF-SSIM (Ma, Zeng & Wang 2015) of ``f`` against the stack ``seq``
    ``(K, H, W)``, computed patch by patch (one row of patches at a time)."""
    win = gaussian_window(11, 1.5) if win is None else win
    size = win.shape[0]
    c = (k * 255.)**2
    eps = np.finfo(np.float64).eps
    patches = np.lib.stride_tricks.sliding_window_view(
        seq, (size, size), axis=(1, 2))
    fpatches = np.lib.stride_tricks.sliding_window_view(f, (size, size))
    rows, cols = fpatches.shape[:2]
    wv = win.ravel()
    qmap = np.empty((rows, cols))
    for i in range(rows):
        vecs = patches[:, i].reshape(seq.shape[0], cols, -1)  # K, cols, n
        mu = vecs.mean(-1, keepdims=True)
        centred = vecs - mu
        var = (vecs * vecs).mean(-1) - mu[..., 0]**2
        ed = np.sqrt(np.maximum(size * size * var, 0)) + 0.001  # K, cols
        total = vecs.sum(0)
        numerator = np.linalg.norm(
            total - total.mean(-1, keepdims=True), axis=-1)
        denominator = np.linalg.norm(centred, axis=-1).sum(0)
        r = (numerator + eps) / (denominator + eps)
        r[r > 1] = 1 - eps
        r[r < 0] = eps
        p = np.minimum(np.tan(math.pi / 2 * r), 10)
        wmap = (ed / size)**p[None] + eps
        wmap = wmap / wmap.sum(0, keepdims=True)
        block = (wmap[..., None] * centred / ed[..., None]).sum(0)
        norm = np.linalg.norm(block, axis=-1, keepdims=True)
        block = np.where(
            norm > 0, block / np.where(norm > 0, norm, 1) * ed.max(0)[:, None],
            block)
        fv = fpatches[i].reshape(cols, -1)
        mu1 = block @ wv
        mu2 = fv @ wv
        s1 = ((block - mu1[:, None])**2) @ wv
        s2 = ((fv - mu2[:, None])**2) @ wv
        s12 = ((block - mu1[:, None]) * (fv - mu2[:, None])) @ wv
        qmap[i] = (2 * s12 + c) / (s1 + s2 + c)
    return float(qmap.mean())


def _downsample(x):
    """MATLAB ``imfilter(x, ones(2)/4, 'symmetric', 'same')`` then every
    second row and column."""
    ext = np.pad(x, ((0, 1), (0, 1)), mode='symmetric')
    avg = (ext[:-1, :-1] + ext[1:, :-1] + ext[:-1, 1:] + ext[1:, 1:]) / 4
    return avg[::2, ::2]


def mef_ssim(f, a, b):
    return _mef_ssim_level(np.stack([a, b]), f)


def ms_ssim(f, a, b, weights=(0.0448, 0.2856, 0.3001)):
    w = np.asarray(weights, np.float64)
    w = w / w.sum()
    seq = np.stack([a, b])
    qs = []
    for level in range(len(w)):
        if level:
            seq = np.stack([_downsample(s) for s in seq])
            f = _downsample(f)
        qs.append(max(_mef_ssim_level(seq, f), 0.0))
    return float(np.prod(np.asarray(qs)**w))


def ssim(f,
         a,
         b,
         reduction='sum',
         mode='pairwise',
         data_range=2.,
         dtype=np.float32):
    if mode == 'mef':
        return mef_ssim(f, a, b)
    total = _ssim_pair(f, a, data_range, dtype) + _ssim_pair(
        f, b, data_range, dtype)
    return total / 2 if reduction == 'mean' else total


def compute_all(f: np.ndarray,
                a: np.ndarray,
                b: np.ndarray,
                metrics: Sequence[str] = ('EN', 'SD', 'SF', 'AG', 'MI', 'SCD',
                                          'VIF', 'Qabf', 'SSIM', 'PSNR', 'MSE',
                                          'CC', 'Nabf', 'MS_SSIM'),
                **options) -> Dict[str, float]:
    """All requested metrics of one image, with the options of
    :func:`mmfusion.evaluation.functional.compute_fusion_metrics` that apply
    (``mi_base``, ``sf_scale``, ``vif_reduction``, ``ssim_reduction``,
    ``ssim_mode``, ``ssim_data_range``, ``ssim_dtype``, ``psnr_peak``,
    ``nabf_scale``)."""
    f, a, b = (np.asarray(x, np.float64) for x in (f, a, b))
    fns = dict(
        EN=lambda: en(f),
        SD=lambda: sd(f),
        SF=lambda: sf(f, options.get('sf_scale', '255')),
        AG=lambda: ag(f),
        MI=lambda: mi(f, a, b, options.get('mi_base', 'e')),
        SCD=lambda: scd(f, a, b),
        CC=lambda: cc(f, a, b),
        MSE=lambda: mse(f, a, b),
        PSNR=lambda: psnr(f, a, b, options.get('psnr_peak', 'max')),
        VIF=lambda: vif(f, a, b, options.get('vif_reduction', 'sum')),
        Qabf=lambda: qabf(f, a, b),
        Nabf=lambda: nabf(f, a, b, options.get('nabf_scale', 'unit')),
        SSIM=lambda: ssim(f, a, b, options.get('ssim_reduction', 'sum'),
                          options.get('ssim_mode', 'pairwise'),
                          options.get('ssim_data_range', 2.),
                          np.dtype(options.get('ssim_dtype', 'float32')).type),
        MS_SSIM=lambda: ms_ssim(f, a, b))
    return {name: fns[name]() for name in metrics}
