# Copyright (c) mmfusion contributors. All rights reserved.
"""The exact-resume check every strategy's runner test makes."""
import os.path as osp
from types import SimpleNamespace
from typing import Callable, Dict

import torch


def model_state(runner) -> Dict[str, torch.Tensor]:
    """A copy of the model's state dict (parameters and buffers)."""
    return {
        k: v.detach().clone()
        for k, v in runner.model.state_dict().items()
    }


def check_exact_resume(make_cfg: Callable,
                       work_dir,
                       n: int,
                       atol: float = 1e-6) -> SimpleNamespace:
    """Train ``2n`` iterations uninterrupted, then ``n`` + resume from
    ``iter_n.pth`` + ``n``, and assert that the resumed model's state equals
    the uninterrupted one's (``atol``, compared in float32) and that the
    first half had not already reached it.

    Args:
        make_cfg: ``make_cfg(work_dir, max_iters, **extra)`` -> the config
            of one run (``extra``: ``resume``/``load_from``).
        work_dir: a folder for the runs (``full/`` and ``split/`` in it).
        n: iterations before the interruption.

    Returns:
        ``full``, ``first``, ``resumed`` (the runners), ``checkpoint`` (the
        path of ``iter_n.pth``) and ``expected`` (the uninterrupted state),
        for each strategy's own checks of the checkpoint and the run.
    """
    from mmfusion.engine.runner import build_runner
    full = build_runner(make_cfg(osp.join(str(work_dir), 'full'), 2 * n))
    full.train()
    expected = model_state(full)

    split = osp.join(str(work_dir), 'split')
    first = build_runner(make_cfg(split, n))
    first.train()
    halfway = model_state(first)
    assert any(not torch.equal(halfway[k], expected[k]) for k in expected), \
        'the first half already equals the whole run: nothing to resume'

    checkpoint = osp.join(split, f'iter_{n}.pth')
    resumed = build_runner(
        make_cfg(split, 2 * n, resume=True, load_from=checkpoint))
    resumed.train()
    assert resumed.iter == 2 * n
    got = model_state(resumed)
    assert got.keys() == expected.keys()
    for k in expected:
        assert torch.allclose(
            got[k].float(), expected[k].float(), atol=atol, rtol=0), k
    return SimpleNamespace(
        full=full,
        first=first,
        resumed=resumed,
        checkpoint=checkpoint,
        expected=expected)
