# Copyright (c) mmfusion contributors. All rights reserved.
"""The finished units of an experiment, kept small enough to commit, and put
back: how an experiment longer than a machine's lifetime goes on elsewhere.

A work dir holds gigabytes a finished unit no longer needs (resume
checkpoints with optimizer state, the in-loop task net, fused images, logs).
:func:`save_state` copies what the later stages and a re-run read of every
*finished* unit into ``state_dir``:

- ``timings.json`` (the wall time of every unit);
- per fusion training that finished (``trained.json``): its record, its
  ``config.py`` and its last checkpoint with the model weights only (no
  optimizer, schedulers or message hub) and without the in-loop task model
  (``task.*``), which nothing after the training reads; of a run with a
  loss generator also the other kept checkpoints, with only the loss
  generator's weights (what the report's loss-generator study reads);
- per task run that finished (``task_metrics.json``, which carries its own
  run identity): that file.

The data, the fixed rules' and the nets' fused images are remade from these
(deterministically) on the next run. Paths in records are stored relative to
the work dir and made absolute again by :func:`restore_state`; run identities
include the work dir's absolute path, so restore into the same place (the
preset's ``work_dir`` in a checkout at the same path) for the units to count
as done. Nothing unfinished is kept: an interrupted training starts again.
"""
import json
import os
import os.path as osp
import shutil
from typing import List

from mmfusion.utils.fileio import atomic_path
from ..task_driven.identity import RESULT_FILE, write_json
from .progress import TIMINGS_FILE
from .training import TRAINED_FILE

__all__ = ['save_state', 'restore_state']

_CHECKPOINT = 'checkpoint'  # the key of a training record naming its file


def _slim(src: str, dst: str, keep=None) -> List[str]:
    """``src``'s model weights (``keep(key)`` ones; default: all but the
    task model's) and meta to ``dst``, atomically. Returns the keys of all
    of ``src``'s weights."""
    import torch

    from mmfusion.utils.checkpoint import load_checkpoint_any
    ckpt = load_checkpoint_any(src, 'cpu')
    weights = ckpt.get('state_dict', ckpt)
    keep = keep or (lambda k: not k.startswith('task.'))
    out = dict(
        meta=ckpt.get('meta', {}),
        state_dict={
            k: v
            for k, v in weights.items() if keep(k)
        })
    os.makedirs(osp.dirname(dst), exist_ok=True)
    with atomic_path(dst) as tmp:
        torch.save(out, tmp)
    return list(weights)


def _copy(src: str, dst: str) -> None:
    os.makedirs(osp.dirname(dst), exist_ok=True)
    with atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)


def _same(a: str, b: str) -> bool:
    if not osp.isfile(b):
        return False
    with open(a, 'rb') as fa, open(b, 'rb') as fb:
        return fa.read() == fb.read()


def _finished_trainings(work_dir: str) -> List[str]:
    return sorted(root for root, _, files in os.walk(work_dir)
                  if TRAINED_FILE in files)


def save_state(work_dir: str, state_dir: str) -> List[str]:
    """Copy the finished units of ``work_dir`` into ``state_dir`` (those
    already there with the same record are skipped). Returns the files
    written."""
    written = []
    timings = osp.join(work_dir, TIMINGS_FILE)
    if osp.isfile(timings) and not _same(timings,
                                         osp.join(state_dir, TIMINGS_FILE)):
        _copy(timings, osp.join(state_dir, TIMINGS_FILE))
        written.append(TIMINGS_FILE)
    for run_dir in _finished_trainings(work_dir):
        rel = osp.relpath(run_dir, work_dir)
        with open(osp.join(run_dir, TRAINED_FILE)) as f:
            record = json.load(f)
        final = record[_CHECKPOINT]
        record[_CHECKPOINT] = osp.relpath(final, work_dir)
        dst_record = osp.join(state_dir, rel, TRAINED_FILE)
        if osp.isfile(dst_record):
            with open(dst_record) as f:
                if json.load(f) == record:
                    continue
        keys = _slim(final, osp.join(state_dir, record[_CHECKPOINT]))
        written.append(record[_CHECKPOINT])
        if any(k.startswith('loss_generator.') for k in keys):
            for name in sorted(os.listdir(run_dir)):
                path = osp.join(run_dir, name)
                if name.endswith('.pth') and path != final:
                    _slim(path, osp.join(state_dir, rel, name),
                          lambda k: k.startswith('loss_generator.'))
                    written.append(osp.join(rel, name))
        _copy(
            osp.join(run_dir, 'config.py'),
            osp.join(state_dir, rel, 'config.py'))
        write_json(dst_record, record)  # last: the unit is whole
        written += [osp.join(rel, 'config.py'), osp.join(rel, TRAINED_FILE)]
    for root, _, files in os.walk(work_dir):
        if RESULT_FILE in files:
            src = osp.join(root, RESULT_FILE)
            rel = osp.relpath(src, work_dir)
            if not _same(src, osp.join(state_dir, rel)):
                _copy(src, osp.join(state_dir, rel))
                written.append(rel)
    return written


def restore_state(state_dir: str, work_dir: str) -> List[str]:
    """Put the units saved in ``state_dir`` back into ``work_dir`` where it
    has no result of its own for them. Returns the files written."""
    written = []
    if not osp.isdir(state_dir):
        return written
    work_dir = osp.abspath(work_dir)
    for root, _, files in os.walk(state_dir):
        for name in files:
            src = osp.join(root, name)
            rel = osp.relpath(src, state_dir)
            dst = osp.join(work_dir, rel)
            if name in (TRAINED_FILE, TIMINGS_FILE) or osp.exists(dst):
                continue  # records and timings below; never overwrite
            _copy(src, dst)
            written.append(rel)
    for run_dir in _finished_trainings(state_dir):
        rel = osp.relpath(run_dir, state_dir)
        dst = osp.join(work_dir, rel, TRAINED_FILE)
        if osp.exists(dst):
            continue
        with open(osp.join(run_dir, TRAINED_FILE)) as f:
            record = json.load(f)
        record[_CHECKPOINT] = osp.join(work_dir, record[_CHECKPOINT])
        write_json(dst, record)
        written.append(osp.join(rel, TRAINED_FILE))
    timings = osp.join(state_dir, TIMINGS_FILE)
    if osp.isfile(timings):  # merged: the work dir's own times win
        with open(timings) as f:
            merged = json.load(f)
        own = osp.join(work_dir, TIMINGS_FILE)
        if osp.isfile(own):
            with open(own) as f:
                merged.update(json.load(f))
        write_json(own, merged)
        written.append(TIMINGS_FILE)
    return written
