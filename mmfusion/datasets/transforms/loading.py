# Copyright (c) mmfusion contributors. All rights reserved.
import mmcv
import numpy as np
from mmcv.transforms import BaseTransform

from mmfusion.registry import TRANSFORMS


def _to_uint8(img: np.ndarray, path: str) -> np.ndarray:
    if img.dtype == np.uint8:
        return img
    if img.dtype == np.uint16:
        # Raw thermal counts use a small part of the 16-bit range: stretch
        # each image to 8 bits rather than dividing by 257 (which would leave
        # an almost black image).
        lo, hi = float(img.min()), float(img.max())
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        return np.round((img.astype(np.float32) - lo) * scale).astype(
            np.uint8)
    raise ValueError(f'image {path} has unsupported dtype {img.dtype}; '
                     'expected 8- or 16-bit')


def load_ir(path: str, backend: str = 'cv2') -> np.ndarray:
    """Read an infrared image as ``(H, W, 1)`` uint8, whatever its storage:
    8/16-bit gray, or 3 identical channels (as TNO ships them)."""
    img = mmcv.imread(path, flag='unchanged', backend=backend)
    if img is None:
        raise ValueError(f'cannot read IR image {path}')
    img = _to_uint8(img, path)
    if img.ndim == 3:
        if img.shape[2] == 4:
            img = img[..., :3]
        if img.shape[2] == 3:
            if not (np.array_equal(img[..., 0], img[..., 1])
                    and np.array_equal(img[..., 1], img[..., 2])):
                img = mmcv.bgr2gray(img)[..., None]
            else:
                img = img[..., :1]
    else:
        img = img[..., None]
    return np.ascontiguousarray(img)


def load_vis(path: str, backend: str = 'cv2') -> tuple:
    """Read a visible image as ``(H, W, 3)`` uint8 BGR; returns ``(img,
    is_gray)``.

    A gray VIS (stored with one channel, or as 3 identical channels like
    TNO's) is kept as 3 identical channels and flagged ``is_gray=True``.
    """
    img = mmcv.imread(path, flag='unchanged', backend=backend)
    if img is None:
        raise ValueError(f'cannot read VIS image {path}')
    img = _to_uint8(img, path)
    if img.ndim == 2:
        img = img[..., None]
    if img.shape[2] == 4:
        img = img[..., :3]
    if img.shape[2] == 1:
        return np.ascontiguousarray(np.repeat(img, 3, axis=2)), True
    is_gray = bool(
        np.array_equal(img[..., 0], img[..., 1])
        and np.array_equal(img[..., 1], img[..., 2]))
    return np.ascontiguousarray(img), is_gray


@TRANSFORMS.register_module()
class LoadPairedImageFromFile(BaseTransform):
    """Load an IR/VIS pair and stack it as one 4-channel image.

    Required keys: ``ir_path``, ``vis_path``.
    Added keys: ``img`` ``(H, W, 4)`` uint8 = VIS BGR + IR, ``img_path``
    (the VIS path), ``img_shape``, ``ori_shape``, ``vis_is_gray``.

    Carrying both modalities in ``img`` lets every mmcv/mmseg/mmdet geometric
    transform (resize, flip, crop, pad, rotate) move IR, VIS, masks and boxes
    identically; photometric transforms go through :class:`ApplyToVis`. IR
    becomes 1 channel whatever its storage; a gray VIS is kept as 3
    identical channels and flagged with ``vis_is_gray=True``.

    Pairs of different sizes raise, except those the dataset marked with
    ``resize_vis_to_ir`` (its ``resize_vis_to_ir=True`` option): their VIS
    is resized (bilinear) to the IR size and ``vis_ori_shape`` recorded.
    """

    def __init__(self, backend: str = 'cv2'):
        self.backend = backend

    def transform(self, results: dict) -> dict:
        ir = load_ir(results['ir_path'], self.backend)
        vis, is_gray = load_vis(results['vis_path'], self.backend)
        if ir.shape[:2] != vis.shape[:2]:
            if not results.get('resize_vis_to_ir', False):
                raise ValueError(
                    f'IR image {results["ir_path"]} is {ir.shape[1]}x'
                    f'{ir.shape[0]} but its VIS pair {results["vis_path"]} '
                    f'is {vis.shape[1]}x{vis.shape[0]}')
            results['vis_ori_shape'] = vis.shape[:2]
            vis = mmcv.imresize(vis, (ir.shape[1], ir.shape[0]))
        results['img'] = np.concatenate([vis, ir], axis=2)
        results['img_path'] = results['vis_path']
        results['img_shape'] = results['img'].shape[:2]
        results['ori_shape'] = results['img'].shape[:2]
        results['vis_is_gray'] = is_gray
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(backend={self.backend!r})'
