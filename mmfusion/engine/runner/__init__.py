# Copyright (c) mmfusion contributors. All rights reserved.
from .phased_train_loop import PhasedTrainLoop

__all__ = ['PhasedTrainLoop']
