# Copyright (c) mmfusion contributors. All rights reserved.
"""How large the labelled objects of an MSRS-layout dataset are, in pixels,
at a chosen resolution.

A segmenter cannot learn a class whose objects are a few pixels tall (its
features are 1/4 .. 1/32 of the input), so a downscaled experiment must
check that its classes are still resolvable. :func:`label_heights` reads the
objects of ``{split}/Detection_labels`` (YOLO boxes, the MSRS detection
annotation: ``0 person, 1 bicycle, 2 car``) or, for a split without them,
the connected components of each class of ``{split}/Segmentation_labels``
(the official MSRS pixel masks: ``1 car, 2 person, 3 bike``), and scales
their heights to the target resolution as ``prepare_dataset`` resizes the
images (each axis independently to ``(w, h)``).
"""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .annotations import parse_yolo_txt

#: class names of the MSRS YOLO detection labels, by id
MSRS_DET_CLASSES = {0: 'person', 1: 'bike', 2: 'car'}
#: class names of the MSRS segmentation masks that are objects, by id
MSRS_SEG_CLASSES = {1: 'car', 2: 'person', 3: 'bike'}


def _native_size(split_dir: str, stem: str) -> Tuple[int, int]:
    """``(w, h)`` of a pair's IR image (the labels' pixel frame)."""
    import cv2
    for ext in ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff'):
        path = osp.join(split_dir, 'ir', stem + ext)
        if osp.exists(path):
            img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
            if img is None:
                raise ValueError(f'cannot read image {path}')
            return img.shape[1], img.shape[0]
    raise FileNotFoundError(f'no IR image for label {stem} in '
                            f'{osp.join(split_dir, "ir")}')


def label_sizes(data_root: str,
                size: Optional[Sequence[int]] = None,
                splits: Sequence[str] = ('train', 'test'),
                source: str = 'auto') -> Dict[str, List[Tuple[float, float]]]:
    """The ``(width, height)`` in pixels of the labelled objects, per class.

    Args:
        data_root: a dataset in the MSRS layout (``{split}/ir``,
            ``{split}/Detection_labels`` and/or
            ``{split}/Segmentation_labels``).
        size: ``(w, h)`` the images are resized to (``None``: as stored).
        splits: the splits to read.
        source: ``'boxes'`` (YOLO ``Detection_labels``), ``'masks'``
            (connected components of ``Segmentation_labels``; objects
            that touch merge into one) or ``'auto'``: boxes where a split
            has them, else masks.

    Returns:
        ``{class name: [(width, height), ...]}`` (names from
        :data:`MSRS_DET_CLASSES` / :data:`MSRS_SEG_CLASSES`).
    """
    if source not in ('auto', 'boxes', 'masks'):
        raise ValueError(f"source must be 'auto', 'boxes' or 'masks', got "
                         f'{source!r}')
    sizes: Dict[str, List[Tuple[float, float]]] = {}
    found = False
    for split in splits:
        split_dir = osp.join(data_root, split)
        det_dir = osp.join(split_dir, 'Detection_labels')
        seg_dir = osp.join(split_dir, 'Segmentation_labels')
        use = source
        if use == 'auto':
            use = 'boxes' if osp.isdir(det_dir) else 'masks'
        if use == 'boxes' and osp.isdir(det_dir):
            found = True
            for name in sorted(os.listdir(det_dir)):
                if not name.endswith('.txt'):
                    continue
                stem = osp.splitext(name)[0]
                rows = parse_yolo_txt(osp.join(det_dir, name))
                if not rows:
                    continue
                w_img, h_img = _native_size(split_dir, stem) \
                    if size is None else size
                for row in rows:
                    cls = MSRS_DET_CLASSES.get(row[1], str(row[1]))
                    sizes.setdefault(cls, []).append(
                        (row[4] * w_img, row[5] * h_img))
        elif use == 'masks' and osp.isdir(seg_dir):
            found = True
            _mask_sizes(seg_dir, size, sizes)
    if not found:
        raise FileNotFoundError(
            f'{data_root}: none of the splits {list(splits)} has '
            f'{"Detection_labels" if source == "boxes" else ""}'
            f'{" or " if source == "auto" else ""}'
            f'{"Segmentation_labels" if source != "boxes" else ""} '
            '(the MSRS layout: {split}/Detection_labels/*.txt, '
            '{split}/Segmentation_labels/*.png)')
    return sizes


def label_heights(data_root: str,
                  size: Optional[Sequence[int]] = None,
                  splits: Sequence[str] = ('train', 'test'),
                  source: str = 'auto') -> Dict[str, List[float]]:
    """The heights in pixels of the labelled objects, per class (see
    :func:`label_sizes`)."""
    return {
        cls: [h for _, h in wh]
        for cls, wh in label_sizes(data_root, size, splits, source).items()
    }


def _mask_sizes(seg_dir: str, size: Optional[Sequence[int]],
                sizes: Dict[str, List[Tuple[float, float]]]) -> None:
    import cv2
    for name in sorted(os.listdir(seg_dir)):
        path = osp.join(seg_dir, name)
        mask = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        if mask is None:
            continue  # not an image
        if mask.ndim != 2:
            raise ValueError(f'segmentation label {path} has shape '
                             f'{mask.shape}; expected one channel of class '
                             'ids')
        sx = 1.0 if size is None else size[0] / mask.shape[1]
        sy = 1.0 if size is None else size[1] / mask.shape[0]
        for cls_id, cls in MSRS_SEG_CLASSES.items():
            binary = (mask == cls_id).astype(np.uint8)
            if not binary.any():
                continue
            n, _, stats, _ = cv2.connectedComponentsWithStats(binary, 8)
            for i in range(1, n):
                sizes.setdefault(cls, []).append(
                    (float(stats[i, cv2.CC_STAT_WIDTH]) * sx,
                     float(stats[i, cv2.CC_STAT_HEIGHT]) * sy))


def label_height_summary(data_root: str,
                         sizes: Sequence[Optional[Sequence[int]]],
                         classes: Sequence[str] = ('person', 'car'),
                         splits: Sequence[str] = ('train', 'test'),
                         source: str = 'auto') -> List[dict]:
    """One row per size and class: ``dict(size, cls, n, median, p25, p75,
    frac_below_8, median_width)`` (heights in pixels; ``frac_below_8``: the
    share of objects under 8 px tall, two pixels of a segmenter's stride-4
    features; ``median_width``: the median width in pixels)."""
    rows = []
    for size in sizes:
        found = label_sizes(data_root, size, splits, source)
        for cls in classes:
            wh = np.asarray(found.get(cls, []), dtype=np.float64)
            h = wh[:, 1] if wh.size else wh
            rows.append(
                dict(
                    size=None if size is None else tuple(size),
                    cls=cls,
                    n=int(h.size),
                    median=float(np.median(h)) if h.size else float('nan'),
                    p25=float(np.percentile(h, 25))
                    if h.size else float('nan'),
                    p75=float(np.percentile(h, 75))
                    if h.size else float('nan'),
                    frac_below_8=float(
                        (h < 8).mean()) if h.size else float('nan'),
                    median_width=float(np.median(wh[:, 0]))
                    if h.size else float('nan')))
    return rows
