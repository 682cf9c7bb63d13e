# Copyright (c) mmfusion contributors. All rights reserved.
from mmengine.structures import BaseDataElement, InstanceData, PixelData


class FusionDataSample(BaseDataElement):
    """Data sample of one IR/VIS pair and its task labels.

    Fields follow the names the downstream tasks read, so an mmseg segmentor
    or an mmdet detector consumes it unchanged:

    - ``gt_sem_seg`` (:class:`PixelData`): semantic mask (mmseg).
    - ``gt_instances`` / ``ignored_instances`` (:class:`InstanceData`): boxes
      and labels (mmdet), and instance ``masks`` when loaded.
    - any other pixel map the pipeline produced, under its own name
      (``gt_edge_map`` for PIDNet, ``gt_depth_map`` ...; see
      :class:`PackFusionInputs`).
    - ``pred_fused`` (:class:`PixelData`): fused RGB image, ``(3, H, W)`` float
      in [0, 1], at the original image size.
    - ``pred_fused_y`` (:class:`PixelData`): fused luminance ``(1, H, W)``.
    - ``pred_sem_seg`` / ``pred_instances``: task predictions.

    Metainfo carries ``ir_path``, ``vis_path``, ``img_shape``, ``ori_shape``,
    ``pad_shape``, ``batch_input_shape``, ``flip`` ...
    """

    def _field(name: str, dtype: type):  # noqa: N805 - property factory

        def getter(self):
            return getattr(self, f'_{name}')

        def setter(self, value):
            self.set_field(value, f'_{name}', dtype=dtype)

        def deleter(self):
            delattr(self, f'_{name}')

        return property(getter, setter, deleter)

    gt_sem_seg = _field('gt_sem_seg', PixelData)
    pred_sem_seg = _field('pred_sem_seg', PixelData)
    seg_logits = _field('seg_logits', PixelData)
    gt_instances = _field('gt_instances', InstanceData)
    ignored_instances = _field('ignored_instances', InstanceData)
    pred_instances = _field('pred_instances', InstanceData)
    pred_fused = _field('pred_fused', PixelData)
    pred_fused_y = _field('pred_fused_y', PixelData)
    del _field
