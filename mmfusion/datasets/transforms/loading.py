# Copyright (c) mmfusion contributors. All rights reserved.
import logging
from typing import Optional

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.logging import print_log

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
        return np.round((img.astype(np.float32) - lo) * scale).astype(np.uint8)
    raise ValueError(f'image {path} has unsupported dtype {img.dtype}; '
                     'expected 8- or 16-bit')


# mean spread (max - min over the 3 channels, in grey levels) above which a
# 3-channel IR is false colour; a grey image saved as a colour JPEG spreads
# by about a level from chroma rounding
FALSE_COLOUR_SPREAD = 4.0
FALSE_COLOUR_IR = ('warn', 'error', 'accept')


def _imread(path: str, backend: str) -> Optional[np.ndarray]:
    """``mmcv.imread`` that returns ``None`` for any unreadable file
    (OpenCV asserts on an empty one)."""
    try:
        return mmcv.imread(path, flag='unchanged', backend=backend)
    except Exception:
        return None


# where a dataset reads the image, its build-time check can find such files
# first; other readers (tools/fuse.py) report the error without this advice
DATASET_CHECK_HINT = (
    "The dataset's default build-time check (check_images='header') reads "
    "only the header and the end marker; check_images='verify' (every PNG "
    "chunk CRC, ~0.3 ms per image) or 'decode' (~8 ms per 640x480 image) "
    'finds such files when the dataset is built, before training')


def unreadable_image_error(path: str, what: str) -> ValueError:
    """The error for an image OpenCV cannot read
    (:class:`~mmfusion.datasets.checks.UnreadableImageError`), with the
    reason (:func:`~mmfusion.datasets.checks.unreadable_reason`) and how to
    catch such files when a dataset is built (its ``hint``; ``brief`` is the
    message without it)."""
    from ..checks import UnreadableImageError, unreadable_reason
    return UnreadableImageError(
        path, unreadable_reason(path), what, hint=DATASET_CHECK_HINT)


def load_ir(path: str,
            backend: str = 'cv2',
            false_colour: str = 'warn',
            state: Optional[dict] = None) -> np.ndarray:
    """Read an infrared image as ``(H, W, 1)`` uint8, whatever its storage:
    8/16-bit gray, or 3 identical channels (as TNO ships them).

    A 3-channel IR whose channels differ (a false-colour rendering such as
    a JET-coloured thermal image; :data:`FALSE_COLOUR_SPREAD`) is turned to
    grey with the BGR luminance weights, which does not give back the
    thermal intensities. ``false_colour``: ``'warn'`` (default) logs it,
    naming the file, once per ``state`` (a dict the caller keeps, e.g. one
    per dataset pipeline; without one, every time); ``'error'`` raises;
    ``'accept'`` converts silently.
    """
    if false_colour not in FALSE_COLOUR_IR:
        raise ValueError(f'false_colour must be one of {FALSE_COLOUR_IR}, '
                         f'got {false_colour!r}')
    img = _imread(path, backend)
    if img is None:
        raise unreadable_image_error(path, 'IR')
    img = _to_uint8(img, path)
    if img.ndim == 3:
        if img.shape[2] == 4:
            img = img[..., :3]
        if img.shape[2] == 3:
            if not (np.array_equal(img[..., 0], img[..., 1])
                    and np.array_equal(img[..., 1], img[..., 2])):
                spread = float(np.mean(img.max(axis=2) - img.min(axis=2)))
                if spread > FALSE_COLOUR_SPREAD:
                    _false_colour(path, spread, false_colour, state)
                img = mmcv.bgr2gray(img)[..., None]
            else:
                img = img[..., :1]
    else:
        img = img[..., None]
    return np.ascontiguousarray(img)


def _false_colour(path: str, spread: float, mode: str,
                  state: Optional[dict]) -> None:
    what = (f'IR image {path} is false colour (3 channels that differ by '
            f'{spread:.1f} grey levels on average, e.g. a JET-coloured '
            'thermal image): converting it to grey with the luminance '
            'weights does not give back the thermal intensities')
    if mode == 'error':
        raise ValueError(
            f'{what}. Convert the IR images to single-channel intensities, or '
            "set false_colour_ir='accept' in LoadPairedImageFromFile / "
            'LoadModalityImage to train on their luminance.')
    if mode == 'accept':
        return
    if state is not None:
        if state.get('warned'):
            return
        state['warned'] = True
    print_log(
        f'{what}. Training on their luminance; convert the IR images to '
        "single-channel intensities, or set false_colour_ir='error' to "
        "refuse such files ('accept' silences this warning, shown once per "
        'dataset).',
        logger='current',
        level=logging.WARNING)


def load_vis(path: str, backend: str = 'cv2') -> tuple:
    """Read a visible image as ``(H, W, 3)`` uint8 BGR; returns ``(img,
    is_gray)``.

    A gray VIS (stored with one channel, or as 3 identical channels like
    TNO's) is kept as 3 identical channels and flagged ``is_gray=True``.
    """
    img = _imread(path, backend)
    if img is None:
        raise unreadable_image_error(path, 'VIS')
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

    Args:
        backend: mmcv image backend.
        false_colour_ir: a 3-channel IR whose channels differ (false
            colour, e.g. JET): ``'warn'`` (default; once per dataset, naming
            the file), ``'error'`` or ``'accept'`` (see :func:`load_ir`).
    """

    def __init__(self, backend: str = 'cv2', false_colour_ir: str = 'warn'):
        if false_colour_ir not in FALSE_COLOUR_IR:
            raise ValueError(f'false_colour_ir must be one of '
                             f'{FALSE_COLOUR_IR}, got {false_colour_ir!r}')
        self.backend = backend
        self.false_colour_ir = false_colour_ir
        self._ir_state = {}

    def transform(self, results: dict) -> dict:
        ir = load_ir(results['ir_path'], self.backend, self.false_colour_ir,
                     self._ir_state)
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
        return (f'{self.__class__.__name__}(backend={self.backend!r}, '
                f'false_colour_ir={self.false_colour_ir!r})')


@TRANSFORMS.register_module()
class LoadModalityImage(BaseTransform):
    """Load one image of a pair as a plain 3-channel ``img``, so that an
    ordinary mmseg/mmdet model trains and tests on one input source of a
    paired dataset: the visible image, the infrared image or the fused image
    of a fusion method (the dataset's ``data_prefix['fused']``).

    This is the loader of task-driven evaluation
    (:mod:`mmfusion.apis.task_driven`): the same dataset, labels and
    pipeline serve every input source, and only ``modality`` changes.
    Labels come from the dataset as for paired training
    (``mmseg.LoadAnnotations`` / ``mmdet.LoadAnnotations`` after this).

    Required keys: ``ir_path``, ``vis_path`` (and ``fused_path`` for
    ``modality='fused'``).
    Added keys: ``img`` ``(H, W, 3)`` uint8 BGR, ``img_path``, ``img_shape``,
    ``ori_shape``, ``modality``.

    IR becomes 3 identical channels (whatever its storage, 16-bit stretched
    as in :func:`load_ir`); a gray VIS or fused image too. A VIS image of
    another size than its IR partner is resized to the IR size when the
    dataset allows it (``resize_vis_to_ir``), as the paired loader does, so
    labels drawn on the IR geometry fit every source.

    Args:
        modality: ``'vis'``, ``'ir'`` or ``'fused'``.
        backend: mmcv image backend.
        false_colour_ir: see :class:`LoadPairedImageFromFile`.
    """

    MODALITIES = ('vis', 'ir', 'fused')

    def __init__(self,
                 modality: str = 'vis',
                 backend: str = 'cv2',
                 false_colour_ir: str = 'warn'):
        if modality not in self.MODALITIES:
            raise ValueError(f'modality must be one of {self.MODALITIES}, '
                             f'got {modality!r}')
        if false_colour_ir not in FALSE_COLOUR_IR:
            raise ValueError(f'false_colour_ir must be one of '
                             f'{FALSE_COLOUR_IR}, got {false_colour_ir!r}')
        self.modality = modality
        self.backend = backend
        self.false_colour_ir = false_colour_ir
        self._ir_state = {}

    def transform(self, results: dict) -> dict:
        if self.modality == 'ir':
            path = results['ir_path']
            img = np.repeat(
                load_ir(path, self.backend, self.false_colour_ir,
                        self._ir_state),
                3,
                axis=2)
        else:
            key = f'{self.modality}_path'
            if key not in results:
                raise KeyError(
                    f'pair {results.get("img_id")!r} has no {key}: set the '
                    "dataset's data_prefix['fused'] to the folder of fused "
                    'images to load them')
            path = results[key]
            img, _ = load_vis(path, self.backend)
            size = (results.get('width'), results.get('height'))
            if self.modality == 'vis' and results.get('resize_vis_to_ir') \
                    and None not in size and img.shape[1::-1] != size:
                img = mmcv.imresize(img, size)
        results['img'] = img
        results['img_path'] = path
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        results['modality'] = self.modality
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(modality={self.modality!r}, '
                f'backend={self.backend!r})')
