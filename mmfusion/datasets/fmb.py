# Copyright (c) mmfusion contributors. All rights reserved.
from typing import Optional

from mmfusion.registry import DATASETS
from .paired_dataset import PairedImageDataset


@DATASETS.register_module()
class FMBDataset(PairedImageDataset):
    """FMB, the full-time multi-modality benchmark of SegMiF (Liu et al.,
    ICCV 2023), 1500 registered 800x600 pairs with semantic masks, in its
    released layout::

        data_root/{train,test}/Infrared/00001.png
        data_root/{train,test}/Visible/00001.png
        data_root/{train,test}/Label/00001.png   # ids 0..14
        data_root/{train,test}/color/00001.png   # colour rendering (unused)

    ``Label`` holds class ids ``0 background, 1 Road, 2 Sidewalk, 3 Building,
    4 Lamp, 5 Sign, 6 Vegetation, 7 Sky, 8 Person, 9 Car, 10 Truck, 11 Bus,
    12 Motorcycle, 13 Bicycle, 14 Pole`` (names and palette as used by the
    public FMB loaders; ``docs/datasets.md`` lists the sources). The
    "14 classes" protocol (TDFusion ``class_num=14``) ignores background:
    ``reduce_zero_label=True`` maps 0 to 255 and 1..14 to 0..13 and drops
    ``background`` from the classes.

    Args:
        data_prefix: folders of the split.
        reduce_zero_label: see above.
        **kwargs: see :class:`PairedImageDataset`.
    """

    METAINFO = dict(
        classes=('background', 'Road', 'Sidewalk', 'Building', 'Lamp', 'Sign',
                 'Vegetation', 'Sky', 'Person', 'Car', 'Truck', 'Bus',
                 'Motorcycle', 'Bicycle', 'Pole'),
        palette=[[0, 0, 0], [228, 228, 179], [133, 57, 181], [177, 162, 67],
                 [50, 178, 200], [199, 45, 132], [84, 172, 66], [79, 73, 179],
                 [166, 99, 76], [253, 121, 66], [91, 165, 137], [152, 97, 155],
                 [140, 153, 105], [158, 215, 222], [90, 113, 135]])

    def __init__(self,
                 data_prefix: dict = dict(
                     ir='train/Infrared',
                     vis='train/Visible',
                     seg='train/Label'),
                 reduce_zero_label: bool = False,
                 metainfo: Optional[dict] = None,
                 **kwargs):
        if reduce_zero_label:
            reduced = dict(
                classes=self.METAINFO['classes'][1:],
                palette=self.METAINFO['palette'][1:])
            metainfo = {**reduced, **(metainfo or {})}
        super().__init__(
            data_prefix=data_prefix,
            reduce_zero_label=reduce_zero_label,
            metainfo=metainfo,
            **kwargs)
