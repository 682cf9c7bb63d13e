# Copyright (c) mmfusion contributors. All rights reserved.
from .annotations import (dataset_to_coco, parse_voc_xml, parse_yolo_txt,
                          read_split_file, to_coco, voc_to_instances,
                          yolo_to_instances)
from .checks import clear_check_cache
from .fmb import FMBDataset
from .llvip import LLVIPDataset
from .m3fd import M3FDDataset
from .msrs import MSRSDataset
from .paired_dataset import PairedImageDataset
from .pairing import IMG_EXTENSIONS, FolderPairs, index_images, pair_folders
from .transforms import *  # noqa: F401,F403

__all__ = [
    'PairedImageDataset', 'MSRSDataset', 'FMBDataset', 'M3FDDataset',
    'LLVIPDataset', 'parse_yolo_txt', 'yolo_to_instances', 'parse_voc_xml',
    'voc_to_instances', 'read_split_file', 'to_coco', 'dataset_to_coco',
    'clear_check_cache', 'IMG_EXTENSIONS', 'FolderPairs', 'index_images',
    'pair_folders'
]
