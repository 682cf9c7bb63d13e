# Copyright (c) mmfusion contributors. All rights reserved.
"""Datasets, their transforms, annotation converters and the IR/VIS pairing
rule.

Every name below is imported on first use (PEP 562): the dataset classes
subclass mmengine's ``BaseDataset`` and the transforms import mmcv's, so
importing them costs a tool that only pairs folders
(``tools/analysis_tools/eval_fused.py`` imports :mod:`.pairing`) the whole
mmengine/mmcv import (~0.3 s). The registries import the dataset and
transform modules when a config names one of them (``DATASETS`` and
``TRANSFORMS`` locations in :mod:`mmfusion.registry`)."""
from mmfusion.utils.lazy import lazy_module_attrs

# name -> submodule, imported on first access
_LAZY = {
    'PairedImageDataset': 'paired_dataset',
    'MSRSDataset': 'msrs',
    'FMBDataset': 'fmb',
    'M3FDDataset': 'm3fd',
    'LLVIPDataset': 'llvip',
    'parse_yolo_txt': 'annotations',
    'yolo_to_instances': 'annotations',
    'parse_voc_xml': 'annotations',
    'voc_to_instances': 'annotations',
    'read_split_file': 'annotations',
    'to_coco': 'annotations',
    'dataset_to_coco': 'annotations',
    'clear_check_cache': 'checks',
    'IMG_EXTENSIONS': 'pairing',
    'FolderPairs': 'pairing',
    'index_images': 'pairing',
    'pair_folders': 'pairing',
    'LoadPairedImageFromFile': 'transforms',
    'LoadModalityImage': 'transforms',
    'PackFusionInputs': 'transforms',
    'ApplyToVis': 'transforms',
    'MasksFromBoxes': 'transforms',
    'load_ir': 'transforms',
    'load_vis': 'transforms',
}

__all__ = list(_LAZY)

__getattr__, __dir__ = lazy_module_attrs(__name__, _LAZY)
