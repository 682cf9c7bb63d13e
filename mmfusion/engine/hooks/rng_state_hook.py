# Copyright (c) mmfusion contributors. All rights reserved.
from typing import Optional

import torch
from mmengine.hooks import Hook

from mmfusion.registry import HOOKS


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Make ``--resume`` continue the model's random stream exactly.

    mmengine re-seeds at start-up and replays the dataloader on resume, which
    restores the data side (sampler and numpy-based transforms) but not the
    torch generator that the model draws from (dropout, drop-path, random
    crops inside a training step). This hook stores the torch (and CUDA)
    generator states in every checkpoint and puts them back right before the
    first iteration after a resume, i.e. after the dataloader replay, so
    ``N`` iterations + resume + ``N`` equals ``2N`` uninterrupted.
    """

    priority = 'VERY_LOW'

    def __init__(self):
        self._pending: Optional[dict] = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        state = dict(torch=torch.get_rng_state())
        if torch.cuda.is_available():
            state['cuda'] = torch.cuda.get_rng_state_all()
        checkpoint.setdefault('meta', {})['rng_state'] = state

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if runner._resume:  # plain `load_from` starts a new random stream
            self._pending = checkpoint.get('meta', {}).get('rng_state')

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch=None) -> None:
        if self._pending is None:
            return
        torch.set_rng_state(self._pending['torch'])
        cuda = self._pending.get('cuda')
        if cuda is not None and torch.cuda.is_available() and \
                len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)
        self._pending = None
