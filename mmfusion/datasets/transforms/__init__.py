# Copyright (c) mmfusion contributors. All rights reserved.
# mmcv's generic transforms (RandomResize, RandomFlip, Pad, ...) register into
# mmengine's root TRANSFORMS, which mmfusion's registry inherits from.
import mmcv.transforms  # noqa: F401

from .formatting import PackFusionInputs
from .loading import (LoadModalityImage, LoadPairedImageFromFile, load_ir,
                      load_vis)
from .targets import MasksFromBoxes
from .wrappers import ApplyToVis

__all__ = [
    'LoadPairedImageFromFile', 'LoadModalityImage', 'PackFusionInputs',
    'ApplyToVis', 'MasksFromBoxes', 'load_ir', 'load_vis'
]
