# Copyright (c) mmfusion contributors. All rights reserved.
"""Run identities of the task-driven protocol and the task-gain experiment
(mmfusion.apis.task_driven.identity): what a config means, not how it is
formatted, and records of earlier versions still recognised."""
import hashlib
import json

from mmengine.config import Config
from mmengine.dist import get_world_size

from mmfusion.apis.task_driven.identity import (IDENTITY_FILE, RunIdentity,
                                                claim_run, config_content,
                                                config_hash, load_record,
                                                write_json)
from mmfusion.utils import config_text

CFG = dict(
    model=dict(
        type='SeAFusion',
        fusion_net=dict(type='SeAFusionNet', channels=(16, 32)),
        loss=dict(type='SeAFusionLoss', weights=[1.0, 10.0])),
    optim_wrapper=dict(optimizer=dict(type='Adam', lr=1e-3)),
    train_cfg=dict(max_iters=10),
    work_dir='/somewhere/run_a',
    resume=False)


def _reordered(d):
    if isinstance(d, dict):
        return {k: _reordered(d[k]) for k in reversed(list(d))}
    return d


def test_config_content_is_the_meaning_not_the_text():
    a = Config(CFG)
    # another key order (as mmengine's text, which sorts keys): same content
    b = Config(_reordered(CFG))
    assert list(b.to_dict()) != list(a.to_dict())
    assert config_content(a) == config_content(b)
    # every value counts: a number, a list against a tuple, a nested key
    for path, value in (('train_cfg.max_iters', 11), ('model.loss.weights',
                                                      (1.0, 10.0)),
                        ('optim_wrapper.optimizer.lr', 1e-3 + 1e-12),
                        ('model.fusion_net.channels',
                         [16, 32]), ('model.fusion_net.new_key', None)):
        c = Config(CFG)
        c.merge_from_dict({path: value})
        assert config_content(c) != config_content(a), path
    # classes and functions by their qualified names (no addresses)
    assert config_content(dict(t=Config)) == \
        "{'t':<mmengine.config.config.Config>}"
    assert config_content(dict(f=_reordered)) == \
        f"{{'f':<{__name__}._reordered>}}"


def test_config_hash_ignores_run_names_and_formats_nothing(monkeypatch):
    calls = []
    real = config_text.Config.pretty_text.fget

    def counted(cfg):
        calls.append(1)
        return real(cfg)

    monkeypatch.setattr(config_text.Config, 'pretty_text', property(counted))
    config_text._CACHE.clear()
    a = Config(CFG)
    other = Config(dict(CFG, work_dir='/elsewhere', resume=True))
    ident = config_hash(a)
    assert isinstance(ident, RunIdentity) and len(ident) == 16
    assert config_hash(other) == ident
    assert config_hash(Config(_reordered(CFG))) == ident
    assert not calls  # no yapf for a new identity
    changed = Config(CFG)
    changed.train_cfg.max_iters = 20
    assert config_hash(changed) != ident
    assert not calls


def test_records_of_the_earlier_identity_are_recognised(tmp_path):
    """A record written with the hash of the yapf-formatted text (before
    config_content) is the same run: reused, resumed; the old hash is
    computed only when the new one does not match."""
    cfg = Config(CFG)
    stripped = Config(CFG)
    for key in ('work_dir', 'resume'):
        stripped.pop(key)
    old = hashlib.sha1(
        (stripped.pretty_text +
         f'world_size={get_world_size()}').encode()).hexdigest()[:16]
    ident = config_hash(cfg)
    assert ident != old and ident.matches(old) and ident.matches(str(ident))
    assert not ident.matches('0123456789abcdef') and not ident.matches(None)

    record = tmp_path / 'task_metrics.json'
    write_json(str(record), dict(config_hash=old, metrics=dict(mIoU=1.0)))
    assert load_record(str(record), ident)['metrics'] == dict(mIoU=1.0)
    write_json(str(record), dict(config_hash=str(ident), metrics={}))
    assert load_record(str(record), ident) is not None
    logged = []
    assert load_record(
        str(record),
        config_hash(Config(dict(CFG, train_cfg=dict(max_iters=3)))),
        logged.append) is None
    assert 'another configuration' in logged[0]

    # an interrupted run of the earlier version resumes
    run = tmp_path / 'run'
    run.mkdir()
    (run / 'last_checkpoint').write_text(str(run / 'iter_5.pth'))
    write_json(str(run / IDENTITY_FILE), dict(source='x', config_hash=old))
    assert claim_run(str(run), ident, 'x', False, print) == 'resume'
    # a run of another configuration is moved aside, the new identity kept
    changed = config_hash(Config(dict(CFG, train_cfg=dict(max_iters=3))))
    assert claim_run(str(run), changed, 'x', False, print) == 'fresh'
    with open(run / IDENTITY_FILE) as f:
        assert json.load(f)['config_hash'] == changed
    assert len(list(tmp_path.glob('run.replaced-*'))) == 1
