# Copyright (c) mmfusion contributors. All rights reserved.
from .fusion_runner import FusionRunner, build_runner
from .phased_train_loop import PhasedTrainLoop

__all__ = ['FusionRunner', 'PhasedTrainLoop', 'build_runner']
