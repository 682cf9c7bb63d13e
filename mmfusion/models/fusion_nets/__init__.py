# Copyright (c) mmfusion contributors. All rights reserved.
from .refusion_net import CrossAttentionFusion, ReFusionNet, RestormerEncoder
from .seafusion_net import GRDB, SeAFusionNet

__all__ = [
    'SeAFusionNet', 'GRDB', 'ReFusionNet', 'CrossAttentionFusion',
    'RestormerEncoder'
]
