# Copyright (c) mmfusion contributors. All rights reserved.
import os.path as osp
from typing import List

from mmfusion.registry import DATASETS
from .paired_dataset import PairedImageDataset, image_size, list_images


@DATASETS.register_module()
class MSRSDataset(PairedImageDataset):
    """MSRS (Tang et al., PIAFusion 2022) in its official layout::

        data_root/{split}/ir/00001D.png
        data_root/{split}/vi/00001D.png
        data_root/{split}/Segmentation_labels/00001D.png   # ids 0..8

    Args:
        data_prefix: folders of the split, e.g. ``dict(ir='train/ir',
            vis='train/vi', seg='train/Segmentation_labels')``. Without a
            ``seg`` key no masks are loaded (fusion only).
    """

    METAINFO = dict(
        classes=('unlabelled', 'car', 'person', 'bike', 'curve', 'car_stop',
                 'guardrail', 'color_cone', 'bump'),
        palette=[[0, 0, 0], [64, 0, 128], [64, 64, 0], [0, 128, 192],
                 [0, 0, 192], [128, 128, 0], [64, 64, 128], [192, 128, 128],
                 [192, 64, 0]])

    def __init__(self,
                 data_prefix: dict = dict(
                     ir='train/ir',
                     vis='train/vi',
                     seg='train/Segmentation_labels'),
                 **kwargs):
        super().__init__(data_prefix=data_prefix, **kwargs)

    def load_data_list(self) -> List[dict]:
        data_list = super().load_data_list()
        seg_dir = self.data_prefix.get('seg')
        if not seg_dir:
            return data_list
        masks = list_images(seg_dir, 'segmentation label')
        for info in data_list:
            stem = info['img_id']
            if stem not in masks:
                raise FileNotFoundError(
                    f'IR/VIS pair {info["ir_path"]} has no segmentation label '
                    f'{stem}.png in {seg_dir}')
            seg_path = osp.join(seg_dir, masks[stem])
            if self.check_sizes and \
                    image_size(seg_path) != image_size(info['ir_path']):
                raise ValueError(
                    f'segmentation label {seg_path} is '
                    f'{image_size(seg_path)} but its images are '
                    f'{image_size(info["ir_path"])} (width, height)')
            info.update(
                seg_map_path=seg_path, seg_fields=[], reduce_zero_label=False)
        return data_list
