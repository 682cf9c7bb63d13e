# Copyright (c) mmfusion contributors. All rights reserved.
from .seafusion_net import GRDB, SeAFusionNet

__all__ = ['SeAFusionNet', 'GRDB']
