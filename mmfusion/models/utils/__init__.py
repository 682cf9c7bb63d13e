# Copyright (c) mmfusion contributors. All rights reserved.
from .sobel import SOBEL_X, SOBEL_Y, sobel_magnitude_l1, sobel_xy

__all__ = ['SOBEL_X', 'SOBEL_Y', 'sobel_xy', 'sobel_magnitude_l1']
