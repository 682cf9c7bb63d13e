# Copyright (c) mmfusion contributors. All rights reserved.
"""Parity with the de facto evaluator on real data: the official SeAFusion
fused images of msrs_mini/test against the evaluator's per-image values
(all 39 with ``../shared``, the 4 bundled ones otherwise)."""
import os

import numpy as np
import pytest
import torch

from mmfusion.evaluation.functional import (DE_FACTO_METRICS,
                                            compute_fusion_metrics)
from mmfusion.testing import numpy_reference as nr

RTOL = 1e-3


def _max_rel_err(got, expected):
    return abs(got - expected) / max(abs(expected), 1e-12)


def test_all_images_match_de_facto_evaluator(seafusion_reference,
                                             seafusion_gray):
    names, ref, dirs = seafusion_reference
    fused, ir, vis = seafusion_gray
    # every saved result has its reference values, and the reverse
    assert names == sorted(f[:-4] for f in os.listdir(dirs['fused']))
    assert len(names) >= 4 and fused.shape == (len(names), 480, 640)
    out = compute_fusion_metrics(fused, ir, vis, DE_FACTO_METRICS)
    worst = {}
    for i, name in enumerate(names):
        for metric, expected in ref['per_image'][name].items():
            err = _max_rel_err(float(out[metric][i]), expected)
            worst[metric] = max(worst.get(metric, 0.), err)
            assert err < RTOL, (name, metric, float(out[metric][i]), expected)
    assert set(worst) == set(DE_FACTO_METRICS)
    # far inside the tolerance: float noise only (documented in
    # docs/evaluation.md); a convention slip would be >1e-3
    assert max(worst.values()) < 1e-5, worst
    for metric, expected in ref['mean'].items():
        mean = float(out[metric].mean())
        assert _max_rel_err(mean, expected) < 1e-6, metric


def test_numpy_reference_matches_de_facto_evaluator(seafusion_reference,
                                                    seafusion_gray):
    """The plain per-image implementation is an independent anchor (one
    full image; it needs ~2 s)."""
    names, ref, _ = seafusion_reference
    fused, ir, vis = seafusion_gray
    i = names.index('00357D')
    got = nr.compute_all(fused[i], ir[i], vis[i], DE_FACTO_METRICS)
    for metric, expected in ref['per_image'][names[i]].items():
        assert _max_rel_err(got[metric], expected) < 1e-5, metric


def test_batched_equals_one_by_one(seafusion_gray):
    fused, ir, vis = (
        torch.from_numpy(x[:3, 100:260, 200:420]) for x in seafusion_gray)
    batch = compute_fusion_metrics(fused, ir, vis)
    for i in range(3):
        single = compute_fusion_metrics(fused[i], ir[i], vis[i])
        for metric, values in batch.items():
            torch.testing.assert_close(
                values[i:i + 1],
                single[metric],
                rtol=1e-9,
                atol=1e-12,
                msg=metric)


@pytest.mark.slow
def test_nabf_and_ms_ssim_on_full_images(seafusion_reference, seafusion_gray):
    """Nabf and MS-SSIM are not in the de facto evaluator: the torch values
    equal the plain numpy transcription of the MATLAB definitions on full
    real images (a day and a night one), and on a day image whose sources
    are made flat in one block (windows where both sources are flat, as in
    00111D of the shared set, which is added where present)."""
    names, _, _ = seafusion_reference
    fused, ir, vis = seafusion_gray
    idx = [
        names.index(n) for n in ('00357D', '00927N', '00111D') if n in names
    ]
    fused, ir, vis = fused[idx], ir[idx], vis[idx]
    day = (slice(100, 180), slice(300, 420))
    flat_ir, flat_vis = ir[0].copy(), vis[0].copy()
    flat_ir[day], flat_vis[day] = 40., 90.
    fused = np.concatenate([fused, fused[:1]])
    ir = np.concatenate([ir, flat_ir[None]])
    vis = np.concatenate([vis, flat_vis[None]])
    got = compute_fusion_metrics(fused, ir, vis, ['Nabf', 'MS_SSIM'])
    for i in range(len(fused)):
        ref = nr.compute_all(fused[i], ir[i], vis[i], ['Nabf', 'MS_SSIM'])
        for metric in ('Nabf', 'MS_SSIM'):
            assert float(got[metric][i]) == pytest.approx(
                ref[metric], rel=1e-6), (i, metric)
