# Copyright (c) mmfusion contributors. All rights reserved.
from typing import List, Union

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform

from mmfusion.registry import TRANSFORMS


@TRANSFORMS.register_module()
class ApplyToVis(BaseTransform):
    """Run photometric transforms on the visible channels only.

    :class:`LoadPairedImageFromFile` stacks VIS (BGR) and IR into one
    ``(H, W, 4)`` ``img`` so that geometric transforms move both. Photometric
    augmentation belongs to the visible image alone (and mmseg's/mmdet's
    ``PhotoMetricDistortion`` need 3 channels): this wrapper hands the inner
    transforms a results dict whose ``img`` is the ``(H, W, 3)`` VIS, then
    puts the result back in front of the untouched IR channel. Example::

        dict(type='ApplyToVis',
             transforms=[dict(type='mmseg.PhotoMetricDistortion')])

    Only ``img`` is written back; an inner transform that changes the image
    size (a geometric one) raises. A float result (mmdet's
    ``PhotoMetricDistortion``) is rounded back to uint8. A gray VIS
    (``vis_is_gray``) is made gray again afterwards when ``keep_gray``, so
    colour jitter cannot invent colour.

    Args:
        transforms: configs (or instances) of the photometric transforms.
        vis_channels: number of leading VIS channels of ``img``.
        keep_gray: re-gray a gray VIS after the transforms.
    """

    def __init__(self,
                 transforms: List[Union[dict, BaseTransform]],
                 vis_channels: int = 3,
                 keep_gray: bool = True):
        if not isinstance(transforms, (list, tuple)):
            transforms = [transforms]
        self.transforms = [
            TRANSFORMS.build(t) if isinstance(t, dict) else t
            for t in transforms
        ]
        self.vis_channels = vis_channels
        self.keep_gray = keep_gray

    def transform(self, results: dict) -> Union[dict, None]:
        img = results['img']
        vis = np.ascontiguousarray(img[..., :self.vis_channels])
        inner = dict(results, img=vis)
        for t in self.transforms:
            inner = t(inner)
            if inner is None:
                return None
        out = inner['img']
        if out.shape != vis.shape:
            raise ValueError(
                f'ApplyToVis: {self.transforms} turned the {vis.shape} VIS '
                f'image of {results.get("vis_path")} into {out.shape}; only '
                'photometric transforms belong in ApplyToVis, geometric ones '
                'go in the main pipeline (they move IR, VIS and labels '
                'together)')
        if out.dtype != img.dtype:
            out = np.clip(np.round(out), 0, 255).astype(img.dtype)
        if self.keep_gray and results.get('vis_is_gray', False):
            gray = mmcv.bgr2gray(out) if out.shape[2] == 3 else out[..., 0]
            out = np.repeat(gray[..., None], out.shape[2], axis=2)
        results['img'] = np.concatenate([out, img[..., self.vis_channels:]],
                                        axis=2)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(transforms={self.transforms}, '
                f'vis_channels={self.vis_channels}, '
                f'keep_gray={self.keep_gray})')
