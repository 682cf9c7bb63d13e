# Copyright (c) mmfusion contributors. All rights reserved.
"""Build-time checks of paired datasets: fast, parallel and cached.

Everything a data pipeline would otherwise trip over in the middle of
training is checked when the dataset is built, and every error names the
offending file:

* images are opened from their header (size, format) and their end marker
  is checked (PNG ``IEND``, JPEG end-of-image), which catches unreadable,
  non-image and truncated files with two small reads per file;
  ``'verify'`` adds the PNG chunk CRCs (reads every byte), ``'decode'``
  decodes the pixels;
* segmentation masks are decoded once to collect their class ids (~1 ms for
  a 640x480 mask);
* label files are parsed (see :mod:`mmfusion.datasets.annotations`).

Which files are images and how IR/VIS images pair is
:mod:`mmfusion.datasets.pairing`.

Per-file results are cached in-process, keyed by path, size and
modification time, so building the same split twice (train/val/test
loaders, a tool after training) costs only ``os.stat`` calls. Pairs are
checked by a thread pool (OpenCV decoding releases the GIL).
"""
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

CHECK_LEVELS = ('header', 'verify', 'decode')

# (path, size, mtime_ns, kind) -> result of a per-file check
_CACHE: Dict[tuple, object] = {}


def clear_check_cache() -> None:
    """Forget every cached per-file check result."""
    _CACHE.clear()


def cached_file_call(path: str, kind: str, fn: Callable[[str], object]):
    """``fn(path)``, memoised on (path, size, mtime, kind).

    Exceptions are not cached: a fixed file is re-checked on the next build.
    """
    try:
        st = os.stat(path)
    except OSError as e:
        raise FileNotFoundError(f'cannot read {path}: {e}') from e
    key = (path, st.st_size, st.st_mtime_ns, kind)
    if key not in _CACHE:
        _CACHE[key] = fn(path)
    return _CACHE[key]


_END_MARKERS = {
    # Inside JPEG entropy-coded data every 0xFF is followed by 0x00 or a
    # restart marker, so 0xFFD9 near the end can only be the end-of-image
    # marker (some writers pad a few bytes after it).
    'JPEG': (b'\xff\xd9', 'no end-of-image marker'),
    'PNG': (b'IEND\xaeB`\x82', 'no IEND chunk'),
}


def _verify_end(path: str, fmt: str) -> None:
    """Raise if a JPEG/PNG file lacks its end marker (a truncated file);
    reads the last KiB only."""
    if fmt not in _END_MARKERS:
        return
    marker, what = _END_MARKERS[fmt]
    with open(path, 'rb') as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - 1024))
        tail = f.read()
    if marker not in tail:
        raise ValueError(f'truncated {fmt} ({what})')


def _image_size(path: str, level: str) -> Tuple[int, int]:
    try:
        with Image.open(path) as img:
            size, fmt = img.size, img.format
            if level == 'verify' and fmt == 'PNG':
                img.verify()  # reads all chunks, checks CRCs, no inflate
        _verify_end(path, fmt)  # OpenCV decodes truncated JPEGs silently
        if level == 'decode':
            import cv2
            img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
            if img is None:
                raise ValueError('OpenCV cannot decode it')
            size = (img.shape[1], img.shape[0])
        return size
    except Exception as e:  # PIL raises many types for bad files
        raise ValueError(f'cannot read image {path} (unreadable or corrupt '
                         f'file): {e}') from e


class UnreadableImageError(ValueError):
    """An image that cannot be read.

    Attributes:
        path: the file.
        reason: why (``'truncated PNG (no IEND chunk)'``, ``'empty file (0
            bytes)'``, ...).
        brief: ``'cannot read {what} image {path}: {reason}'``.

    ``str()`` is ``brief`` followed by ``hint``, advice that applies where
    the error is raised (e.g. a dataset option); a caller for which the hint
    does not apply (a tool that reads a folder without a dataset) reports
    ``brief``.
    """

    def __init__(self, path: str, reason: str, what: str = '', hint: str = ''):
        self.path, self.reason, self.what, self.hint = path, reason, what, hint
        self.brief = (f'cannot read {what + " " if what else ""}image {path}: '
                      f'{reason}')
        super().__init__(self.brief + (f'. {hint}' if hint else ''))

    def __reduce__(self):
        return type(self), (self.path, self.reason, self.what, self.hint)


def unreadable_reason(path: str) -> str:
    """Why an image that OpenCV cannot read is unreadable: missing, empty,
    truncated or failing a PNG chunk CRC (:func:`image_size` at
    ``'verify'``), or damaged image data (a full decode with PIL)."""
    if not os.path.exists(path):
        return 'the file does not exist'
    if os.path.getsize(path) == 0:
        return 'empty file (0 bytes)'
    for level in ('header', 'verify'):  # a missing end marker first
        try:
            _image_size(path, level)
        except ValueError as e:
            return str(e.__cause__ or e)
    try:
        with Image.open(path) as img:
            img.load()
    except Exception as e:  # PIL raises many types for bad files
        return f'the image data is damaged ({e})'
    return 'OpenCV cannot decode it (PIL can)'


def image_size(path: str, level: str = 'header') -> Tuple[int, int]:
    """``(width, height)`` of an image, read and checked at ``level``.

    Args:
        path: image file.
        level: ``'header'`` reads the header and, for PNG/JPEG, checks that
            the file ends with its end marker (catches unreadable,
            non-image and truncated files; reads two small blocks);
            ``'verify'`` also checks every PNG chunk CRC (reads the whole
            file, no pixel decoding); ``'decode'`` decodes the pixels.

    Raises:
        ValueError: naming ``path`` if it cannot be read.
    """
    if level not in CHECK_LEVELS:
        raise ValueError(f'check level must be one of {CHECK_LEVELS}, got '
                         f'{level!r}')
    return cached_file_call(path, f'image-{level}',
                            lambda p: _image_size(p, level))


def _mask_info(path: str) -> Tuple[int, int, Tuple[int, ...]]:
    import cv2
    try:
        with Image.open(path) as img:
            if img.mode == 'L':  # the usual 8-bit mask: decoded below
                mask = None
            else:  # Pillow, like mmseg's LoadAnnotations: palette -> ids
                mask = np.asarray(img)
        if mask is None:
            # OpenCV releases the GIL (the checks run on threads)
            mask = cv2.imread(path, cv2.IMREAD_UNCHANGED)
            if mask is None:
                raise ValueError('OpenCV cannot decode it')
    except Exception as e:
        raise ValueError(f'cannot read segmentation label {path} '
                         f'(unreadable or corrupt file): {e}') from e
    if mask.ndim == 3 and mask.shape[2] == 1:
        mask = mask[..., 0]
    if mask.ndim != 2:
        raise ValueError(
            f'segmentation label {path} has shape {mask.shape}: expected a '
            'single-channel class-index image (not a colour rendering)')
    if mask.dtype == np.uint8:
        hist = cv2.calcHist([mask], [0], None, [256], [0, 256]).ravel()
        ids = np.flatnonzero(hist)
    else:
        ids = np.unique(mask)
    return mask.shape[1], mask.shape[0], tuple(int(i) for i in ids)


def mask_info(path: str) -> Tuple[int, int, Tuple[int, ...]]:
    """``(width, height, class ids present)`` of a class-index mask (cached).
    """
    return cached_file_call(path, 'mask', _mask_info)


def check_mask_ids(path: str,
                   ids: Iterable[int],
                   num_classes: int,
                   ignore_index: int = 255,
                   reduce_zero_label: bool = False) -> None:
    """Raise if a mask holds an id that is neither a class nor ignored.

    With ``reduce_zero_label`` the stored ids are ``0`` (ignored) and
    ``1..num_classes``, as mmseg's ``LoadAnnotations`` shifts them down.
    """
    low, high = (1, num_classes) if reduce_zero_label else (0, num_classes - 1)
    bad = [
        i for i in ids if not (low <= i <= high or i == ignore_index or
                               (reduce_zero_label and i == 0))
    ]
    if bad:
        zero = ', 0 = ignore (reduce_zero_label)' if reduce_zero_label else ''
        raise ValueError(
            f'segmentation label {path} holds class id(s) {bad} outside the '
            f'dataset\'s {num_classes} classes (valid: {low}..{high}, '
            f'{ignore_index} = ignore{zero})')


def parallel_map(fn: Callable,
                 items: Sequence,
                 num_workers: Optional[int] = None) -> List:
    """``[fn(x) for x in items]`` on a thread pool, in order; the first
    failing item (in order) raises."""
    if num_workers is None:
        num_workers = min(8, os.cpu_count() or 1)
    if num_workers <= 1 or len(items) < 8:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(num_workers) as pool:
        return list(pool.map(fn, items))


# --------------------------------------------------------------------------
# pipeline check: every geometric transform must move every loaded label
# --------------------------------------------------------------------------

# (package, class name) -> the box-aware transform to use instead
_BOX_UNAWARE = {
    ('mmcv', 'Resize'): 'mmdet.Resize (or RandomResize with '
    "resize_type='mmdet.Resize')",
    ('mmcv', 'RandomFlip'): 'mmdet.RandomFlip',
    ('mmcv', 'CenterCrop'): 'mmdet.RandomCrop',
    ('mmseg', 'RandomCrop'): 'mmdet.RandomCrop (its crop_size is (w, h))',
    ('mmseg', 'RandomRotate'): 'mmdet.Rotate',
    ('mmseg', 'RandomRotFlip'): 'mmdet.Rotate + mmdet.RandomFlip',
    ('mmseg', 'RandomFlip'): 'mmdet.RandomFlip',
    ('mmseg', 'Resize'): 'mmdet.Resize',
    ('mmseg', 'ResizeToMultiple'): 'mmdet.Pad(size_divisor=...)',
    ('mmseg', 'ResizeShortestEdge'): 'mmdet.Resize',
    ('mmseg', 'RandomMosaic'): 'mmdet.Mosaic (boxes only)',
    ('mmdet', 'ResizeShortestEdge'): 'mmdet.Resize',
}
# geometric mmdet transforms that leave ``gt_seg_map`` where it was
_SEG_UNAWARE = {('mmdet', name)
                for name in ('RandomShift', 'Mosaic', 'MixUp', 'RandomAffine',
                             'CopyPaste', 'CachedMosaic', 'CachedMixUp')}


def _walk(transform) -> Iterable:
    """Yield ``transform`` and every transform nested in it (wrappers keep
    theirs in ``transforms``, mmcv's ``RandomResize`` in ``resize``)."""
    yield transform
    if type(transform).__name__ == 'ApplyToVis':
        return  # photometric, VIS channels only: moves nothing
    for attr in ('transforms', 'resize'):
        inner = getattr(transform, attr, None)
        if inner is not None:
            yield from _walk_any(inner)


def _walk_any(obj) -> Iterable:
    if isinstance(obj, (list, tuple)):
        for item in obj:
            yield from _walk_any(item)
    else:
        yield from _walk(obj)


def check_pipeline_moves_labels(transforms: Sequence, with_seg: bool,
                                with_det: bool, owner: str) -> None:
    """Raise if a geometric transform would leave loaded labels behind.

    mmcv's ``Resize``/``RandomFlip`` fail on mmdet boxes with an obscure
    error and mmseg's ``RandomCrop``/``RandomRotate`` silently leave boxes
    where they were; mmdet's ``RandomAffine``/``Mosaic`` ... do the same to
    masks. This is caught when the dataset is built, not at the first batch.
    """
    for top in transforms:
        for t in _walk(top):
            key = (type(t).__module__.split('.')[0], type(t).__name__)
            if with_det and key in _BOX_UNAWARE:
                raise ValueError(
                    f'{owner} loads detection boxes but its pipeline uses '
                    f'{key[0]}.{key[1]}, which does not move boxes; use '
                    f'{_BOX_UNAWARE[key]} instead (mmdet\'s geometric '
                    'transforms move images, boxes and masks together)')
            if with_seg and key in _SEG_UNAWARE:
                raise ValueError(
                    f'{owner} loads segmentation masks but its pipeline uses '
                    f'{key[0]}.{key[1]}, which does not move masks')


__all__ = [
    'CHECK_LEVELS', 'clear_check_cache', 'cached_file_call', 'image_size',
    'UnreadableImageError', 'unreadable_reason', 'mask_info', 'check_mask_ids',
    'parallel_map', 'check_pipeline_moves_labels'
]
