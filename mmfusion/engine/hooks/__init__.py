# Copyright (c) mmfusion contributors. All rights reserved.
from .fused_image_save_hook import FusedImageSaveHook
from .phased_param_scheduler_hook import PhasedParamSchedulerHook
from .rng_state_hook import RNGStateHook
from .visualization_hook import FusionVisualizationHook  # noqa: F401

__all__ = ['FusedImageSaveHook', 'PhasedParamSchedulerHook', 'RNGStateHook']
