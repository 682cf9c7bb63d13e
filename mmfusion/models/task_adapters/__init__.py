# Copyright (c) mmfusion contributors. All rights reserved.
from .task_adapter import TaskAdapter

__all__ = ['TaskAdapter']
