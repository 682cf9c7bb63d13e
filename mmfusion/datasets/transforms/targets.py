# Copyright (c) mmfusion contributors. All rights reserved.
"""Targets derived from the loaded labels, for task models that need more
than a dataset provides."""
import numpy as np
from mmcv.transforms import BaseTransform

from mmfusion.registry import TRANSFORMS


@TRANSFORMS.register_module()
class MasksFromBoxes(BaseTransform):
    """Instance masks from the boxes: each box filled (``gt_masks``,
    mmdet ``BitmapMasks`` of the image size), for instance-segmentation
    tasks (Mask R-CNN and family) on a dataset that has boxes only.

    A coarse target, documented as such: a model trained on it learns box-
    shaped masks. Put it after ``mmdet.LoadAnnotations`` (and before the
    geometric transforms, which then move the masks with the boxes)::

        dict(type='mmdet.LoadAnnotations', with_bbox=True, with_label=True),
        dict(type='MasksFromBoxes'),

    Existing ``gt_masks`` are kept unless ``overwrite``.
    """

    def __init__(self, overwrite: bool = False):
        self.overwrite = overwrite

    def transform(self, results: dict) -> dict:
        if 'gt_masks' in results and not self.overwrite:
            return results
        from mmdet.structures.mask import BitmapMasks
        h, w = results['img'].shape[:2] if 'img' in results else \
            results['img_shape'][:2]
        boxes = results['gt_bboxes']
        boxes = boxes.numpy() if hasattr(boxes, 'numpy') else np.asarray(boxes)
        masks = np.zeros((len(boxes), h, w), dtype=np.uint8)
        for i, (x1, y1, x2, y2) in enumerate(np.asarray(boxes).reshape(-1, 4)):
            top, left = int(np.floor(max(y1, 0))), int(np.floor(max(x1, 0)))
            bottom, right = int(np.ceil(min(y2, h))), int(np.ceil(min(x2, w)))
            masks[i, top:max(bottom, top + 1), left:max(right, left + 1)] = 1
        results['gt_masks'] = BitmapMasks(masks, h, w)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(overwrite={self.overwrite})'
