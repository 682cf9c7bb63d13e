# Copyright (c) mmfusion contributors. All rights reserved.
"""High-level Python APIs (inference)."""
