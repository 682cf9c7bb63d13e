# Copyright (c) mmfusion contributors. All rights reserved.
from .checks import check_fusion_inputs
from .inference import CompiledInferenceMixin, compiled_call
from .restormer import (GDFN, MDTA, ChannelLayerNorm, RestormerBlock, conv1x1,
                        dwconv3x3, transposed_attention)
from .saliency import SALIENCY_MODES, saliency_weight_map, vsm_saliency

__all__ = [
    'check_fusion_inputs', 'ChannelLayerNorm', 'MDTA', 'GDFN',
    'RestormerBlock', 'transposed_attention', 'conv1x1', 'dwconv3x3',
    'vsm_saliency', 'saliency_weight_map', 'SALIENCY_MODES',
    'CompiledInferenceMixin', 'compiled_call'
]
