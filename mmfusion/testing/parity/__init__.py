# Copyright (c) mmfusion contributors. All rights reserved.
"""Parity of mmfusion's training steps with the methods' official code.

``common`` holds the comparison machinery; one module per method
(``tdfusion``, ``bdlfusion``, ``seafusion``) exposes ``official_step`` and
``mmfusion_step``. Run by ``tools/analysis_tools/official_parity.py``.
"""
