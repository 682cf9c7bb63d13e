# Copyright (c) mmfusion contributors. All rights reserved.
"""glibc malloc tuning for CPU work, opt-in: keep freed memory for reuse.

PyTorch on CPU allocates every tensor with ``malloc``. glibc serves blocks
above an adaptive threshold (at most 32 MiB) with a fresh ``mmap`` when no
free heap block fits, and gives memory back to the kernel when more than
twice that threshold is free at the top of its heap. Work that frees most of
what it allocated, again and again, then gets its memory afresh, page by
page, each page faulted in and zeroed by the kernel: ~20 % of the 14
fusion metrics' CPU time, and in a process that runs nothing but ReFusion's
training steps 20-35 % of their time (``docs/benchmarks.md``; a whole
TDFusion training process, whose heap is large and fragmented, reuses its
memory anyway: the tuning changed its iterations by < 5 %).

:func:`keep_freed_memory` serves every block below 32 MiB from the heap and
keeps up to 256 MiB of free heap per arena. It changes the process's
allocator, so it is the program's choice, never an import's: mmfusion
applies it only where ``MMFUSION_KEEP_FREED_MEMORY=1`` is set (the metrics,
``benchmark_refusion.py --malloc keep-freed``). The cost: a process may hold
up to 256 MiB per thread arena that it no longer uses (the usual trade of
``MALLOC_TRIM_THRESHOLD_`` / ``MALLOC_MMAP_THRESHOLD_`` tuning).
"""
import ctypes
import os
import platform

ENV = 'MMFUSION_KEEP_FREED_MEMORY'
TRIM_THRESHOLD = 256 << 20
MMAP_THRESHOLD = 32 << 20  # glibc's largest mmap threshold on 64-bit

_applied = False


def keep_freed_memory(force: bool = False) -> bool:
    """Apply the tuning if ``MMFUSION_KEEP_FREED_MEMORY=1`` (or ``force``:
    a program's explicit choice, e.g. a benchmark's ``--malloc``); once
    applied, it stays for the process. Returns whether it is in effect; a
    no-op off Linux/glibc."""
    global _applied
    if _applied:
        return True
    if (force or os.environ.get(ENV, '0') == '1') and \
            platform.system() == 'Linux' \
            and platform.libc_ver()[0] == 'glibc':
        try:
            libc = ctypes.CDLL('libc.so.6')
            _applied = bool(
                libc.mallopt(-1, TRIM_THRESHOLD)  # M_TRIM_THRESHOLD
                and libc.mallopt(-3, MMAP_THRESHOLD))  # M_MMAP_THRESHOLD
        except (OSError, AttributeError):  # pragma: no cover
            pass
    return _applied
