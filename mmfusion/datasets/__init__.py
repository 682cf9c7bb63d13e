# Copyright (c) mmfusion contributors. All rights reserved.
from .msrs import MSRSDataset
from .paired_dataset import PairedImageDataset
from .transforms import *  # noqa: F401,F403

__all__ = ['PairedImageDataset', 'MSRSDataset']
