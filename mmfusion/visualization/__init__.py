# Copyright (c) mmfusion contributors. All rights reserved.
"""Visualizers and backends (mmengine's are reachable through the registry
parents until mmfusion adds its own)."""
