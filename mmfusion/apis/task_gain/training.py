# Copyright (c) mmfusion contributors. All rights reserved.
"""Fusion trainings of the experiment, in this process.

In-process, like the task-driven protocol's task trainings (one way of
training in the experiment): the runner is built by
:func:`~mmfusion.engine.runner.build_runner`, as ``tools/train.py`` does; a
failure raises with its traceback; nothing depends on where
``tools/train.py`` is installed; and no interpreter + OpenMMLab start-up is
paid per training (dozens with fusion seeds and twins). Runs in one process
are kept apart by their unique run names (logger, message hub, visualizer)
and their log files are closed when they end.

Run identity, reuse, resume and moving aside are
:mod:`mmfusion.apis.task_driven.identity`'s (the protocol's): a finished
training leaves :data:`TRAINED_FILE` with its identity and checkpoint.
"""
import copy
import os.path as osp
from typing import Callable, Tuple

from mmengine.config import Config

from mmfusion.utils.config_text import pretty_text
from mmfusion.utils.runner_names import set_unique_run_name
from ..task_driven.identity import (claim_run, config_hash, load_record,
                                    write_json)

__all__ = ['TRAINED_FILE', 'train_fusion', 'trained_checkpoint']

#: a finished fusion training: its identity and last checkpoint
TRAINED_FILE = 'trained.json'


def _run_config(cfg: Config, work_dir: str, name: str) -> Config:
    cfg = copy.deepcopy(cfg)
    cfg.work_dir = osp.abspath(work_dir)
    cfg.launcher = 'none'
    set_unique_run_name(cfg, name.replace(' ', '_'))
    return cfg


def trained_checkpoint(cfg: Config,
                       work_dir: str,
                       name: str,
                       log: Callable[[str], None] = print):
    """The checkpoint of a finished training of ``cfg`` in ``work_dir``
    (same identity), else ``None``."""
    record = load_record(
        osp.join(work_dir, TRAINED_FILE),
        config_hash(_run_config(cfg, work_dir, name)), log)
    if record and osp.isfile(record.get('checkpoint', '')):
        return record['checkpoint']
    return None


def train_fusion(cfg: Config,
                 work_dir: str,
                 name: str,
                 rerun: bool = False,
                 log: Callable[[str], None] = print) -> Tuple[str, bool]:
    """Train ``cfg`` in ``work_dir``: reused when a finished training of the
    same identity is there, resumed from its last checkpoint when an
    interrupted one is, else trained afresh (anything else there is moved
    aside). Returns ``(last checkpoint, trained now)``; the run's config is
    ``work_dir/config.py``."""
    from mmfusion.engine.runner import build_runner
    from ..task_driven.protocol import _close_file_handlers, _free_accelerator
    cfg = _run_config(cfg, work_dir, name)
    identity = config_hash(cfg)
    if not rerun:
        record = load_record(osp.join(work_dir, TRAINED_FILE), identity, log)
        if record and osp.isfile(record.get('checkpoint', '')):
            log(f'{name}: already trained ({record["checkpoint"]})')
            return record['checkpoint'], False
    state = claim_run(work_dir, identity, name, rerun, log)
    cfg.resume = state == 'resume'
    if cfg.resume:
        cfg.load_from = None  # the latest checkpoint of the work dir
    with open(osp.join(work_dir, 'config.py'), 'w', encoding='utf-8') as f:
        f.write(pretty_text(cfg))  # = cfg.dump, formatted once
    log(f'{name}: training in {work_dir}' +
        (' (resumed)' if cfg.resume else ''))
    runner = build_runner(cfg)
    try:
        runner.train()
    finally:
        _close_file_handlers(runner.logger)
    del runner
    _free_accelerator()
    last = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(last):
        raise RuntimeError(f'{name}: the training in {work_dir} saved no '
                           'checkpoint (default_hooks.checkpoint)')
    with open(last) as f:
        ckpt = f.read().strip()
    write_json(
        osp.join(work_dir, TRAINED_FILE),
        dict(source=name, config_hash=identity, checkpoint=ckpt))
    return ckpt, True
