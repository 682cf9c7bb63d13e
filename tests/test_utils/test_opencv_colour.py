"""OpenCV's uint8 colour conversions (TarDAL's official test path):
``opencv_gray``, ``opencv_cbcr``, ``opencv_ycbcr_to_rgb``, the
``'vis_opencv'`` colour policy and ``FusionDataPreprocessor(ycbcr=
'opencv')``, against cv2 itself (the full 2^24 check was run once; here a
random sample and the colours where the float formulas differ)."""
import cv2
import numpy as np
import pytest
import torch

from mmfusion.models.data_preprocessors import FusionDataPreprocessor
from mmfusion.utils import (opencv_cbcr, opencv_gray, opencv_ycbcr_to_rgb,
                            restore_colour, rgb_to_ycbcr)


def _colours(n=200_000, seed=0):
    rng = np.random.default_rng(seed)
    bgr = rng.integers(0, 256, (1, n, 3), dtype=np.uint8)
    # where round(.299R + .587G + .114B) differs from OpenCV (among others)
    bgr[0, :4] = [[0, 0, 1], [255, 255, 254], [3, 200, 17], [128, 128, 128]]
    rgb = torch.from_numpy(bgr[..., ::-1].copy()).permute(2, 0, 1)[None]
    return bgr, rgb.float() / 255


def test_gray_and_chroma_equal_cv2():
    bgr, rgb = _colours()
    gray = (opencv_gray(rgb)[0, 0] * 255).round().byte().numpy()
    assert np.array_equal(gray, cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
    ycrcb = cv2.cvtColor(bgr, cv2.COLOR_BGR2YCrCb)
    cbcr = (opencv_cbcr(rgb)[0] * 255).round().byte().numpy()
    assert np.array_equal(cbcr[0], ycrcb[..., 2])
    assert np.array_equal(cbcr[1], ycrcb[..., 1])
    # the float formulas do not give OpenCV's grey for every colour
    float_y = (rgb_to_ycbcr(rgb)[0][0, 0] * 255).round().byte().numpy()
    assert not np.array_equal(float_y, gray)


def test_inverse_equals_cv2_on_truncated_y():
    rng = np.random.default_rng(1)
    y = rng.random((1, 1, 300, 300)).astype(np.float32) * 1.2 - 0.1
    cb, cr = rng.integers(0, 256, (2, 300, 300), dtype=np.uint8)
    y8 = (np.clip(y, 0, 1) * 255).astype(np.uint8)[0, 0]
    ref = cv2.cvtColor(np.stack([y8, cr, cb], -1), cv2.COLOR_YCrCb2BGR)
    cbcr = torch.from_numpy(np.stack([cb, cr])).float()[None] / 255
    for out in (opencv_ycbcr_to_rgb(torch.from_numpy(y), cbcr),
                restore_colour(torch.from_numpy(y), 'vis_opencv', cbcr)):
        got = (out[0] * 255).round().byte().permute(1, 2, 0).numpy()
        assert np.array_equal(got, ref[..., ::-1])


def test_preprocessor_opencv_convention():
    bgr, _ = _colours(64 * 64)
    bgr = bgr.reshape(64, 64, 3)
    ir = np.arange(64 * 64, dtype=np.uint8).reshape(64, 64, 1)
    packed = torch.from_numpy(np.concatenate([bgr, ir], -1)).permute(2, 0, 1)
    out = FusionDataPreprocessor(ycbcr='opencv')(dict(inputs=[packed]))
    vis_y = (out['inputs']['vis_y'][0, 0] * 255).round().byte().numpy()
    assert np.array_equal(vis_y, cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
    ycrcb = cv2.cvtColor(bgr, cv2.COLOR_BGR2YCrCb)
    cr = (out['inputs']['vis_cbcr'][0, 1] * 255).round().byte().numpy()
    assert np.array_equal(cr, ycrcb[..., 1])
    with pytest.raises(ValueError, match='ycbcr'):
        FusionDataPreprocessor(ycbcr='bt601')
