# Copyright (c) mmfusion contributors. All rights reserved.
from . import zoo
from .task_adapter import TaskAdapter

__all__ = ['TaskAdapter', 'zoo']
