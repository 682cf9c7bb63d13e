# Copyright (c) mmfusion contributors. All rights reserved.
from mmfusion.registry import DATASETS
from .paired_dataset import PairedImageDataset


@DATASETS.register_module()
class MSRSDataset(PairedImageDataset):
    """MSRS (Tang et al., PIAFusion, Information Fusion 2022) in its official
    layout, with its segmentation and detection annotations::

        data_root/{train,test}/ir/00001D.png                  # 8-bit gray
        data_root/{train,test}/vi/00001D.png                  # RGB
        data_root/{train,test}/Segmentation_labels/00001D.png # ids 0..8
        data_root/{train,test}/Detection_labels/00001D.txt    # YOLO

    One class for every task: the ``data_prefix`` keys decide which labels
    are loaded (``seg``, ``det``, both or none). Segmentation uses the 9
    MSRS classes (``classes``); detection labels are YOLO txt lines ``cls cx
    cy w h`` with ``0 person, 1 bicycle, 2 car`` (``det_classes``). A
    detection-only dataset reports the detection classes as ``classes``.

    Args:
        data_prefix: folders of the split, e.g. ``dict(ir='train/ir',
            vis='train/vi', seg='train/Segmentation_labels',
            det='train/Detection_labels')``.
        **kwargs: see :class:`PairedImageDataset`.
    """

    METAINFO = dict(
        classes=('unlabelled', 'car', 'person', 'bike', 'curve', 'car_stop',
                 'guardrail', 'color_cone', 'bump'),
        palette=[[0, 0, 0], [64, 0, 128], [64, 64, 0], [0, 128, 192],
                 [0, 0, 192], [128, 128, 0], [64, 64, 128], [192, 128, 128],
                 [192, 64, 0]],
        det_classes=('person', 'bicycle', 'car'),
        det_palette=[[64, 64, 0], [0, 128, 192], [64, 0, 128]])
    DET_FORMAT = 'yolo'

    def __init__(self,
                 data_prefix: dict = dict(
                     ir='train/ir',
                     vis='train/vi',
                     seg='train/Segmentation_labels'),
                 **kwargs):
        super().__init__(data_prefix=data_prefix, **kwargs)
