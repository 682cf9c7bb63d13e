# Copyright (c) mmfusion contributors. All rights reserved.
from .fused_image_save_hook import FusedImageSaveHook

__all__ = ['FusedImageSaveHook']
