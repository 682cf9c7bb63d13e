# Copyright (c) mmfusion contributors. All rights reserved.
from .fused_image_save_hook import FusedImageSaveHook
from .phased_param_scheduler_hook import PhasedParamSchedulerHook
from .rng_state_hook import RNGStateHook

__all__ = ['FusedImageSaveHook', 'PhasedParamSchedulerHook', 'RNGStateHook']
