# Copyright (c) mmfusion contributors. All rights reserved.
"""Distributed set-up that also works on CPU-only machines.

mmengine 0.10.7's ``init_dist('pytorch')`` calls ``torch.cuda.set_device``
unconditionally, which fails without CUDA. :func:`init_dist` creates the
process group with gloo there instead and leaves every other case to
mmengine; :class:`~mmfusion.engine.runner.FusionRunner` calls it, and
``tools/task_eval.py`` before it builds anything. mmengine's own
``init_dist`` is not changed.
"""
import atexit
import datetime

import torch

__all__ = ['init_dist', 'cpu_only']


def cpu_only() -> bool:
    """No CUDA device (the machines mmengine's pytorch launcher fails on)."""
    return not torch.cuda.is_available()


#: how long a rank waits at exit for the others before tearing down alone
EXIT_BARRIER_TIMEOUT = datetime.timedelta(seconds=120)


def _destroy_process_group() -> None:
    """At exit: wait for the other ranks (a rank that finished first, e.g.
    one with nothing left to do while rank 0 writes the report, must not
    tear the gloo group down under the others: that aborts it with
    "terminate called without an active exception", seen on a loaded
    machine), then destroy the group. A rank whose peers are gone waits
    :data:`EXIT_BARRIER_TIMEOUT` at most."""
    import torch.distributed as torch_dist
    if not (torch_dist.is_available() and torch_dist.is_initialized()):
        return
    try:
        if torch_dist.get_backend() == 'gloo':
            torch_dist.monitored_barrier(timeout=EXIT_BARRIER_TIMEOUT)
    except Exception:  # a peer failed or left: tear down anyway
        pass
    torch_dist.destroy_process_group()


def init_dist(launcher: str,
              backend: str = 'nccl',
              init_backend: str = 'torch',
              **kwargs) -> None:
    """mmengine's ``init_dist``, except that ``launcher='pytorch'`` on a
    machine without CUDA creates a gloo process group (whatever
    ``backend`` says: nccl needs CUDA). The group is destroyed at exit:
    mmengine never does, and a gloo group torn down with the interpreter
    can abort the process after a finished run ("terminate called without
    an active exception", seen on 1 of ~5 CPU runs)."""
    import torch.distributed as torch_dist
    import torch.multiprocessing as mp
    from mmengine.dist import init_dist as mmengine_init_dist

    atexit.register(_destroy_process_group)
    if launcher != 'pytorch' or init_backend != 'torch' or not cpu_only():
        mmengine_init_dist(
            launcher, backend=backend, init_backend=init_backend, **kwargs)
        return
    timeout = kwargs.get('timeout')
    if timeout is not None and not isinstance(timeout, datetime.timedelta):
        kwargs['timeout'] = datetime.timedelta(seconds=timeout)
    if mp.get_start_method(allow_none=True) is None:
        mp.set_start_method('spawn')
    torch_dist.init_process_group(backend='gloo', **kwargs)
