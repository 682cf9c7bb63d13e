# Copyright (c) mmfusion contributors. All rights reserved.
from .bdlfusion import BDLFusion, aggregate_hypergradients
from .fusion_model import FusionModel
from .seafusion import SeAFusion
from .tardal import TarDAL
from .tdfusion import TDFusion

__all__ = [
    'FusionModel', 'SeAFusion', 'TDFusion', 'BDLFusion', 'TarDAL',
    'aggregate_hypergradients'
]
