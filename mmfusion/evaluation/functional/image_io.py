# Copyright (c) mmfusion contributors. All rights reserved.
"""Images as the de facto evaluator sees them.

The evaluator reads every image with OpenCV as 8-bit BGR, converts it to
float32, applies OpenCV's BGR->GRAY (``.299 R + .587 G + .114 B``) in float
and rounds to integers. OpenCV's own uint8 conversion (fixed-point) differs
from that by one gray level on ~0.1 % of the pixels, so these helpers always
take the float route.
"""
from typing import Optional

import cv2
import numpy as np
import torch
from torch import Tensor

from mmfusion.utils import to_uint8

__all__ = ['read_gray', 'bgr_to_gray', 'rgb_to_gray', 'fused_to_gray']


def bgr_to_gray(img: np.ndarray) -> np.ndarray:
    """8-bit BGR ``(H, W, 3)`` (or gray ``(H, W)``/``(H, W, 1)``) -> gray
    ``(H, W)`` float64, integer valued."""
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    if img.ndim == 2:
        return img.astype(np.float64)
    if img.ndim != 3 or img.shape[2] not in (3, 4):
        raise ValueError(f'expected an (H, W, 3) BGR image, got shape '
                         f'{img.shape}')
    gray = cv2.cvtColor(
        np.ascontiguousarray(img[..., :3]).astype(np.float32),
        cv2.COLOR_BGR2GRAY)
    return np.round(gray).astype(np.float64)


def rgb_to_gray(img: np.ndarray) -> np.ndarray:
    """8-bit RGB ``(H, W, 3)`` -> gray ``(H, W)`` float64 (see
    :func:`bgr_to_gray`)."""
    if img.ndim == 3 and img.shape[2] >= 3:
        img = img[..., 2::-1]
    return bgr_to_gray(img)


def read_gray(path: str, backend_args: Optional[dict] = None) -> np.ndarray:
    """Read an image file as the evaluator does (8-bit colour read, float
    BGR->GRAY, rounded). Raises ``ValueError`` naming the file when it cannot
    be read."""
    try:
        if backend_args is None and '://' not in str(path):
            # what mmcv.imread(path, 'color') does with a local file (OpenCV
            # decodes its bytes to 8-bit BGR), without importing mmcv
            img = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_COLOR)
        else:
            import mmcv
            img = mmcv.imread(path, flag='color', backend_args=backend_args)
    except Exception as e:  # missing file, unknown backend ...
        raise ValueError(f'cannot read image {path}: {e}') from e
    if img is None:
        raise ValueError(f'cannot read image {path} (not an image, or '
                         'corrupt)')
    return bgr_to_gray(img)


def fused_to_gray(fused: Tensor, rounding: str = 'round') -> np.ndarray:
    """A fused image ``(C, H, W)`` in [0, 1] (``pred_fused`` of a
    :class:`~mmfusion.structures.FusionDataSample`) -> gray ``(H, W)``
    float64: quantised to uint8 exactly as ``FusedImageSaveHook`` saves it
    (:func:`mmfusion.utils.to_uint8`), then converted like a saved file read
    back by the evaluator."""
    if not isinstance(fused, Tensor):
        fused = torch.as_tensor(fused)
    if fused.dim() == 2:
        fused = fused[None]
    rgb = to_uint8(fused, rounding)
    if rgb.shape[2] == 1:
        return rgb[..., 0].astype(np.float64)
    return rgb_to_gray(rgb)
