# Copyright (c) mmfusion contributors. All rights reserved.
from .fusion_data_sample import FusionDataSample
from .phases import (Phase, PhaseSchedule, PhaseSpec, check_phases,
                     current_phase, phase_scope)

__all__ = [
    'FusionDataSample', 'Phase', 'PhaseSpec', 'PhaseSchedule', 'check_phases',
    'current_phase', 'phase_scope'
]
