# Copyright (c) mmfusion contributors. All rights reserved.
from mmfusion.registry import DATASETS
from .paired_dataset import PairedImageDataset


@DATASETS.register_module()
class M3FDDataset(PairedImageDataset):
    """M3FD, the multi-scenario multi-modality detection benchmark of TarDAL
    (Liu et al., CVPR 2022): 4200 registered pairs (mostly 1024x768) with
    34,407 boxes of 6 classes, in its released detection layout::

        data_root/Ir/00000.png
        data_root/Vis/00000.png
        data_root/Annotation/00000.xml      # Pascal VOC
        data_root/meta/train.txt            # split files (optional)
        data_root/meta/val.txt

    M3FD has no official split: TarDAL lists image names (``00000.png``)
    in ``meta/{train,val}.txt``, other works use their own (e.g. BDLFusion
    3600/600); ``tools/dataset_converters/make_split.py`` writes one. Pass
    the split file as ``ann_file``; without it every pair is used.

    Class names are read from the xml ``<name>``: ``People, Car, Bus,
    Motorcycle, Lamp, Truck`` (label ids follow this order). TarDAL's
    converted ``labels/*.txt`` (YOLO) number them ``People, Car, Bus, Lamp,
    Motorcycle, Truck``: to use those, set ``det_format='yolo'``,
    ``data_prefix['det']='labels'`` and ``metainfo=dict(classes=...)`` in
    that order.

    Args:
        data_prefix: folders, by default ``dict(ir='Ir', vis='Vis',
            det='Annotation')``.
        **kwargs: see :class:`PairedImageDataset`.
    """

    METAINFO = dict(
        classes=('People', 'Car', 'Bus', 'Motorcycle', 'Lamp', 'Truck'),
        # TarDAL's colours for the same names
        palette=[[255, 0, 0], [193, 195, 55], [47, 167, 180], [248, 79, 44],
                 [245, 65, 196], [125, 44, 200]])
    DET_FORMAT = 'voc'

    def __init__(self,
                 data_prefix: dict = dict(
                     ir='Ir', vis='Vis', det='Annotation'),
                 **kwargs):
        super().__init__(data_prefix=data_prefix, **kwargs)
