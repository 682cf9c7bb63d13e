# Copyright (c) mmfusion contributors. All rights reserved.
from .drdb_fusion_net import DRDB, DRDBFusionNet
from .pixel_discriminator import PixelDiscriminator
from .refusion_net import CrossAttentionFusion, ReFusionNet, RestormerEncoder
from .seafusion_net import GRDB, SeAFusionNet
from .tardal_discriminator import TarDALDiscriminator
from .tardal_net import TarDALGenerator

__all__ = [
    'SeAFusionNet', 'GRDB', 'ReFusionNet', 'CrossAttentionFusion',
    'RestormerEncoder', 'DRDBFusionNet', 'DRDB', 'PixelDiscriminator',
    'TarDALGenerator', 'TarDALDiscriminator'
]
