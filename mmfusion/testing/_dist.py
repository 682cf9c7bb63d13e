# Copyright (c) mmfusion contributors. All rights reserved.
"""Multi-process (gloo) runs for tests on a CPU machine."""
import os
import socket
from typing import Callable

__all__ = ['free_port', 'spawn_ranks']


def free_port() -> int:
    """A TCP port free on localhost now (for ``MASTER_PORT``)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _rank_entry(rank: int, fn: Callable, world_size: int, port: int,
                args: tuple) -> None:
    os.environ.update(
        MASTER_ADDR='127.0.0.1',
        MASTER_PORT=str(port),
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(world_size))
    import torch
    torch.set_num_threads(1)
    import mmfusion  # noqa: F401  (CPU/gloo support of the launcher)
    fn(rank, *args)


def spawn_ranks(fn: Callable, world_size: int, *args) -> None:
    """Run ``fn(rank, *args)`` in ``world_size`` processes with the
    environment of ``torchrun`` (``launcher='pytorch'`` then initialises a
    gloo group on CPU), one thread each. ``fn`` must be importable (a
    module-level function)."""
    import torch.multiprocessing as mp
    mp.spawn(
        _rank_entry,
        args=(fn, world_size, free_port(), args),
        nprocs=world_size,
        join=True)
