# Copyright (c) mmfusion contributors. All rights reserved.
from .checks import check_fusion_inputs
from .inference import CompiledInferenceMixin, compiled_call
from .restormer import (GDFN, MDTA, ChannelLayerNorm, RestormerBlock,
                        conv1x1, dwconv3x3, transposed_attention)
from .saliency import SALIENCY_MODES, saliency_weight_map, vsm_saliency
from .sobel import SOBEL_X, SOBEL_Y, sobel_magnitude_l1, sobel_xy
from .ssim import gaussian_window, ssim

__all__ = [
    'SOBEL_X', 'SOBEL_Y', 'sobel_xy', 'sobel_magnitude_l1',
    'check_fusion_inputs', 'ChannelLayerNorm', 'MDTA', 'GDFN',
    'RestormerBlock', 'transposed_attention', 'conv1x1', 'dwconv3x3', 'ssim',
    'gaussian_window', 'vsm_saliency', 'saliency_weight_map', 'SALIENCY_MODES',
    'CompiledInferenceMixin', 'compiled_call'
]
