# Copyright (c) mmfusion contributors. All rights reserved.
from .fused_image_save_hook import FusedImageSaveHook
from .rng_state_hook import RNGStateHook

__all__ = ['FusedImageSaveHook', 'RNGStateHook']
