# Copyright (c) mmfusion contributors. All rights reserved.
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import InstanceData, PixelData

from mmfusion.registry import TRANSFORMS
from mmfusion.structures import FusionDataSample


def _to_tensor(value) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    return torch.from_numpy(np.ascontiguousarray(value))


@TRANSFORMS.register_module()
class PackFusionInputs(BaseTransform):
    """Pack a stacked IR/VIS image and its labels for the fusion model.

    ``inputs``: ``(C, H, W)`` uint8 tensor (VIS BGR + IR, see
    :class:`LoadPairedImageFromFile`); :class:`FusionDataPreprocessor`
    splits the modalities. ``data_samples``: a :class:`FusionDataSample`
    holding, under the names mmseg and mmdet read,

    - ``gt_sem_seg`` (``PixelData(data=(1, H, W) int64)``) when a mask was
      loaded (``mmseg.LoadAnnotations``), as mmseg's ``PackSegInputs``;
    - ``gt_instances`` (``bboxes``, ``labels``) and ``ignored_instances``
      (boxes with ``gt_ignore_flags``) when boxes were loaded
      (``mmdet.LoadAnnotations``), as mmdet's ``PackDetInputs``: boxes stay
      mmdet box objects (``HorizontalBoxes``), labels become int64 tensors;
    - the ``meta_keys`` found in the results as metainfo; ``instances``
      (the dataset's boxes in the original image frame) lets mmdet's
      ``CocoMetric`` build its ground truth without a COCO json.
    """

    def __init__(self,
                 meta_keys=('img_id', 'img_path', 'ir_path', 'vis_path',
                            'seg_map_path', 'ori_shape', 'img_shape',
                            'pad_shape', 'scale_factor', 'flip',
                            'flip_direction', 'homography_matrix',
                            'vis_is_gray', 'reduce_zero_label',
                            'instances')):
        self.meta_keys = meta_keys

    def _pack_instances(self, results: dict, sample: FusionDataSample):
        boxes = results['gt_bboxes']
        labels = results.get('gt_bboxes_labels')
        ignore = results.get('gt_ignore_flags')
        if ignore is None:
            ignore = np.zeros(len(boxes), dtype=bool)
        ignore = np.asarray(ignore, dtype=bool)
        for field, keep in (('gt_instances', np.flatnonzero(~ignore)),
                            ('ignored_instances', np.flatnonzero(ignore))):
            instances = InstanceData()
            index = torch.from_numpy(keep)
            if isinstance(boxes, np.ndarray):
                instances.bboxes = _to_tensor(boxes[keep]).float()
            else:  # mmdet BaseBoxes
                instances.bboxes = boxes[index]
            if labels is not None:
                instances.labels = _to_tensor(
                    np.asarray(labels)[keep]).long()
            setattr(sample, field, instances)

    def transform(self, results: dict) -> dict:
        packed = dict()
        if 'img' in results:  # labels alone may be packed too
            img = results['img']
            if img.ndim == 2:
                img = img[..., None]
            packed['inputs'] = torch.from_numpy(
                np.ascontiguousarray(img.transpose(2, 0, 1)))
        sample = FusionDataSample()
        if 'gt_seg_map' in results:
            seg = results['gt_seg_map']
            sample.gt_sem_seg = PixelData(
                data=torch.from_numpy(seg[None].astype(np.int64)))
        if 'gt_bboxes' in results:
            self._pack_instances(results, sample)
        sample.set_metainfo(
            {k: results[k]
             for k in self.meta_keys if k in results})
        packed['data_samples'] = sample
        return packed

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'
