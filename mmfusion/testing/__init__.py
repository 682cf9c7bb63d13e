# Copyright (c) mmfusion contributors. All rights reserved.
from ._dist import free_port, spawn_ranks
from ._models import tiny_detector, tiny_segmentor
from ._resume import check_exact_resume, model_state

__all__ = [
    'tiny_segmentor', 'tiny_detector', 'free_port', 'spawn_ranks',
    'check_exact_resume', 'model_state'
]
