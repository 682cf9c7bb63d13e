# Copyright (c) mmfusion contributors. All rights reserved.
from .separate_ddp import FusionSeparateDDP

__all__ = ['FusionSeparateDDP']
