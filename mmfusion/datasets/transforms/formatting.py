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
    """Pack a stacked IR/VIS image and every label the pipeline produced.

    ``inputs``: ``(C, H, W)`` uint8 tensor (VIS BGR + IR, see
    :class:`LoadPairedImageFromFile`); :class:`FusionDataPreprocessor`
    splits the modalities. ``data_samples``: a :class:`FusionDataSample`
    holding, under the names mmseg and mmdet read, every ``gt_*`` result:

    - pixel maps (``H x W`` arrays, as mmseg's ``PackSegInputs``):
      ``gt_seg_map`` as ``gt_sem_seg``, and any other one under its own name
      (``gt_edge_map`` from ``mmseg.GenerateEdge``, ``gt_depth_map`` ...),
      ``PixelData(data=(1, H, W))``, int64 for integer maps;
    - instances (as mmdet's ``PackDetInputs``): ``gt_bboxes`` (kept as mmdet
      box objects, e.g. ``HorizontalBoxes``), ``gt_bboxes_labels`` (int64),
      ``gt_masks`` (``BitmapMasks`` / ``PolygonMasks``) and any other
      per-box ``gt_*`` array become ``gt_instances`` (``bboxes``, ``labels``,
      ``masks``, ...); those with ``gt_ignore_flags`` set become
      ``ignored_instances``;
    - the ``meta_keys`` found in the results as metainfo; ``instances``
      (the dataset's boxes in the original image frame) lets mmdet's
      ``CocoMetric`` build its ground truth without a COCO json.

    A ``gt_*`` result that is neither is an error (naming the key), rather
    than a label silently left behind.
    """

    # results key -> InstanceData field, as mmdet's PackDetInputs
    INSTANCE_FIELDS = {
        'gt_bboxes': 'bboxes',
        'gt_bboxes_labels': 'labels',
        'gt_masks': 'masks',
    }

    def __init__(self,
                 meta_keys=('img_id', 'img_path', 'ir_path', 'vis_path',
                            'seg_map_path', 'ori_shape', 'img_shape',
                            'pad_shape', 'scale_factor', 'flip',
                            'flip_direction', 'homography_matrix',
                            'vis_is_gray', 'reduce_zero_label', 'instances')):
        self.meta_keys = meta_keys

    def _pack_instances(self, results: dict, sample: FusionDataSample,
                        keys) -> None:
        n = len(results['gt_bboxes'])
        ignore = results.get('gt_ignore_flags')
        if ignore is None:
            ignore = np.zeros(n, dtype=bool)
        ignore = np.asarray(ignore, dtype=bool)
        for field, keep in (('gt_instances', np.flatnonzero(~ignore)),
                            ('ignored_instances', np.flatnonzero(ignore))):
            instances = InstanceData()
            index = torch.from_numpy(keep)
            for key in keys:
                value = results[key]
                name = self.INSTANCE_FIELDS.get(key, key[len('gt_'):])
                if isinstance(value, (np.ndarray, list, tuple)):
                    value = np.asarray(value)[keep]
                    if key == 'gt_bboxes':
                        value = _to_tensor(value).float()
                    elif value.dtype.kind in 'iub':
                        value = _to_tensor(value).long()
                    else:
                        value = _to_tensor(value)
                elif isinstance(value, torch.Tensor):
                    value = value[index]
                else:  # mmdet BaseBoxes, BitmapMasks, PolygonMasks
                    value = value[keep] if key == 'gt_masks' else \
                        value[index]
                instances[name] = value
            setattr(sample, field, instances)

    def _pack_labels(self, results: dict, sample: FusionDataSample) -> None:
        img = results.get('img')
        img_hw = None if img is None else tuple(img.shape[:2])
        n = len(results['gt_bboxes']) if 'gt_bboxes' in results else None
        instance_keys = []
        for key in sorted(results):
            if not key.startswith('gt_') or key == 'gt_ignore_flags':
                continue
            value = results[key]
            # (short-circuit: np.ndim cannot take mmdet's masks or boxes)
            per_instance = key in self.INSTANCE_FIELDS or (
                n is not None and hasattr(value, '__len__')
                and not isinstance(value, str) and len(value) == n
                and np.ndim(value) in (1, 2) and
                (img_hw is None or np.shape(value)[:2] != img_hw))
            if per_instance:
                instance_keys.append(key)
            elif isinstance(value, np.ndarray) and value.ndim == 2:
                data = value[None]
                data = data.astype(np.int64) if data.dtype.kind in 'iub' \
                    else data
                name = 'gt_sem_seg' if key == 'gt_seg_map' else key
                sample.set_field(PixelData(data=_to_tensor(data)), name)
            else:
                raise TypeError(
                    f'PackFusionInputs: do not know how to pack {key!r} '
                    f'({type(value).__name__}); pixel maps are H x W arrays, '
                    'per-instance labels need gt_bboxes')
        if n is not None:
            self._pack_instances(results, sample, instance_keys)

    def transform(self, results: dict) -> dict:
        packed = dict()
        if 'img' in results:  # labels alone may be packed too
            img = results['img']
            if img.ndim == 2:
                img = img[..., None]
            packed['inputs'] = torch.from_numpy(
                np.ascontiguousarray(img.transpose(2, 0, 1)))
        sample = FusionDataSample()
        self._pack_labels(results, sample)
        sample.set_metainfo(
            {k: results[k]
             for k in self.meta_keys if k in results})
        packed['data_samples'] = sample
        return packed

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'
