# Copyright (c) mmfusion contributors. All rights reserved.
from .colour import (COLOUR_POLICIES, normalize_output, opencv_cbcr,
                     opencv_gray, opencv_ycbcr_to_rgb, restore_colour,
                     rgb_to_ycbcr, saturation_weighted_chroma, to_uint8,
                     ycbcr_to_rgb)
from .runner_names import set_unique_run_name
from .setup_env import register_all_modules

__all__ = [
    'register_all_modules', 'rgb_to_ycbcr', 'ycbcr_to_rgb', 'normalize_output',
    'to_uint8', 'restore_colour', 'saturation_weighted_chroma',
    'COLOUR_POLICIES', 'set_unique_run_name', 'opencv_gray', 'opencv_cbcr',
    'opencv_ycbcr_to_rgb'
]
