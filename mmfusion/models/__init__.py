# Copyright (c) mmfusion contributors. All rights reserved.
from .algorithms import *  # noqa: F401,F403
from .data_preprocessors import *  # noqa: F401,F403
from .fusion_nets import *  # noqa: F401,F403
from .loss_generators import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .task_adapters import *  # noqa: F401,F403
from .wrappers import *  # noqa: F401,F403
