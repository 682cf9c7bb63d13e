# Copyright (c) mmfusion contributors. All rights reserved.
"""The experiment's images: the dataset downscaled into the work dir, and
the fused images of fixed rules."""
import os
import os.path as osp
import time
from typing import List, Optional, Sequence

import cv2
import numpy as np

from mmfusion.utils.fileio import atomic_path

__all__ = ['SPLITS', 'prepare_dataset', 'fuse_with_rule']

SPLITS = ('train', 'test')
# image folders of the MSRS layout -> interpolation of the resize
_IMAGE_DIRS = {
    'ir': cv2.INTER_AREA,
    'vi': cv2.INTER_AREA,
    'Segmentation_labels': cv2.INTER_NEAREST
}


def prepare_dataset(source: str,
                    dest: str,
                    size: Optional[Sequence[int]] = None) -> str:
    """Copy an MSRS-layout dataset (``{train,test}/{ir,vi,
    Segmentation_labels,Detection_labels}``) to ``dest``, each image resized
    to ``size = (w, h)`` (IR/VIS: area interpolation; label masks: nearest;
    YOLO box files are normalised and copied as they are). Returns ``dest``.
    Raises ``FileNotFoundError`` naming a missing split folder, and
    ``ValueError`` naming an unreadable image, before anything is written
    to ``dest``."""
    todo = []
    for split in SPLITS:
        for sub in ('ir', 'vi'):
            folder = osp.join(source, split, sub)
            if not osp.isdir(folder):
                raise FileNotFoundError(
                    f'dataset {source}: folder {folder} does not exist (an '
                    'MSRS layout {train,test}/{ir,vi,Segmentation_labels} is '
                    'expected)')
        for sub in list(_IMAGE_DIRS) + ['Detection_labels']:
            folder = osp.join(source, split, sub)
            if osp.isdir(folder):
                todo += [(split, sub, name)
                         for name in sorted(os.listdir(folder))]
    with atomic_path(dest) as tmp:
        for split, sub, name in todo:
            src = osp.join(source, split, sub, name)
            out = osp.join(tmp, split, sub, name)
            os.makedirs(osp.dirname(out), exist_ok=True)
            if sub not in _IMAGE_DIRS or size is None:
                with open(src, 'rb') as fi, open(out, 'wb') as fo:
                    fo.write(fi.read())
                continue
            img = cv2.imread(src, cv2.IMREAD_UNCHANGED)
            if img is None:
                raise ValueError(f'cannot read image {src}')
            img = cv2.resize(
                img,
                tuple(int(s) for s in size),
                interpolation=_IMAGE_DIRS[sub])
            if not cv2.imwrite(out, img):
                raise OSError(f'cannot write {out}')
        if osp.isdir(dest):
            os.replace(dest,
                       f'{dest}.replaced-{time.strftime("%Y%m%d_%H%M%S")}')
    return dest


def fuse_with_rule(ir_dir: str,
                   vis_dir: str,
                   out_dir: str,
                   rule: str = 'max') -> List[str]:
    """Fuse every IR/VIS pair of two folders with a fixed rule and write
    ``out_dir/<name>.png``: ``'max'`` takes the pixel-wise maximum of the IR
    image and the VIS luminance (Y), ``'mean'`` their average; the result is
    recoloured with the VIS chroma (:mod:`mmfusion.utils.colour`)."""
    import torch

    from mmfusion.datasets.pairing import pair_folders
    from mmfusion.utils.colour import rgb_to_ycbcr, ycbcr_to_rgb
    if rule not in ('max', 'mean'):
        raise ValueError(f"rule must be 'max' or 'mean', got {rule!r}")
    pairs = pair_folders(ir_dir, vis_dir, unmatched='warn')
    names, irs, viss = pairs.names, pairs.ir, pairs.vis
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for name in names:
        ir = cv2.imread(irs[name], cv2.IMREAD_GRAYSCALE)
        vis = cv2.imread(viss[name], cv2.IMREAD_COLOR)
        if ir is None or vis is None:
            raise ValueError(f'cannot read pair {name!r} ({irs[name]}, '
                             f'{viss[name]})')
        rgb = torch.from_numpy(vis[..., ::-1].copy()).permute(
            2, 0, 1)[None].float() / 255
        y, cbcr = rgb_to_ycbcr(rgb)
        ir_t = torch.from_numpy(ir)[None, None].float() / 255
        fused = torch.maximum(ir_t, y) if rule == 'max' else (ir_t + y) / 2
        out = ycbcr_to_rgb(fused, cbcr)[0].permute(1, 2, 0).numpy()
        path = osp.join(out_dir, f'{name}.png')
        cv2.imwrite(path, np.round(out * 255).astype(np.uint8)[..., ::-1])
        written.append(path)
    return written
