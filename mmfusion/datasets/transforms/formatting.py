# Copyright (c) mmfusion contributors. All rights reserved.
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import PixelData

from mmfusion.registry import TRANSFORMS
from mmfusion.structures import FusionDataSample


@TRANSFORMS.register_module()
class PackFusionInputs(BaseTransform):
    """Pack a stacked IR/VIS image and its labels for the fusion model.

    ``inputs``: ``(C, H, W)`` uint8 tensor (VIS BGR + IR, see
    :class:`LoadPairedImageFromFile`). ``data_samples``: a
    :class:`FusionDataSample` with ``gt_sem_seg`` when a mask was loaded and
    the ``meta_keys`` found in the results as metainfo.
    """

    def __init__(self,
                 meta_keys=('img_id', 'ir_path', 'vis_path', 'seg_map_path',
                            'ori_shape', 'img_shape', 'pad_shape',
                            'scale_factor', 'flip', 'flip_direction',
                            'vis_is_gray', 'reduce_zero_label')):
        self.meta_keys = meta_keys

    def transform(self, results: dict) -> dict:
        img = results['img']
        if img.ndim == 2:
            img = img[..., None]
        inputs = torch.from_numpy(
            np.ascontiguousarray(img.transpose(2, 0, 1)))
        sample = FusionDataSample()
        if 'gt_seg_map' in results:
            seg = results['gt_seg_map']
            sample.gt_sem_seg = PixelData(
                data=torch.from_numpy(seg[None].astype(np.int64)))
        sample.set_metainfo(
            {k: results[k]
             for k in self.meta_keys if k in results})
        return dict(inputs=inputs, data_samples=sample)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'
