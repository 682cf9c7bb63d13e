# Copyright (c) mmfusion contributors. All rights reserved.
from mmfusion.registry import DATASETS
from .paired_dataset import PairedImageDataset


@DATASETS.register_module()
class LLVIPDataset(PairedImageDataset):
    """LLVIP, the low-light visible-infrared paired pedestrian dataset (Jia et
    al., ICCV workshops 2021): 15,488 registered 1280x1024 pairs (12,025
    train / 3,463 test), one class (person), in its released layout::

        data_root/infrared/{train,test}/010001.jpg
        data_root/visible/{train,test}/010001.jpg
        data_root/Annotations/010001.xml    # Pascal VOC, both splits

    A visible and an infrared image of a pair share their name and their
    annotation.

    Args:
        data_prefix: folders of the split, by default the training split
            ``dict(ir='infrared/train', vis='visible/train',
            det='Annotations')``.
        **kwargs: see :class:`PairedImageDataset`.
    """

    METAINFO = dict(classes=('person', ), palette=[[220, 20, 60]])
    DET_FORMAT = 'voc'

    def __init__(self,
                 data_prefix: dict = dict(
                     ir='infrared/train',
                     vis='visible/train',
                     det='Annotations'),
                 **kwargs):
        super().__init__(data_prefix=data_prefix, **kwargs)
