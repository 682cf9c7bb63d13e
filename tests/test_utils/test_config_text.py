"""mmfusion.utils.config_text: a config's text formatted once per content,
and FusionRunner's config (log, work-dir copy, checkpoints) through it."""
import copy
import os.path as osp

import torch
from mmengine.config import Config

from mmfusion.utils import config_text
from mmfusion.utils.config_text import TextOnceConfig, pretty_text

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(REPO, 'configs', 'seafusion', 'seafusion_content_demo.py')


def test_formatted_once_per_content(monkeypatch):
    calls = []

    class Counting(Config):

        @property
        def pretty_text(self):
            calls.append(1)
            return Config.pretty_text.fget(self)

    monkeypatch.setattr(config_text, 'Config', Counting)
    monkeypatch.setattr(config_text, '_CACHE', type(config_text._CACHE)())
    cfg = Config.fromfile(DEMO)
    text = Config.pretty_text.fget(cfg)
    assert pretty_text(cfg) == text
    assert pretty_text(copy.deepcopy(cfg)) == text
    assert len(calls) == 1
    cfg.train_cfg.max_iters = 12345  # a new content: formatted again
    changed = pretty_text(cfg)
    assert len(calls) == 2 and '12345' in changed and changed != text
    once = TextOnceConfig.of(cfg)
    assert once.pretty_text == changed and len(calls) == 2
    copied = copy.deepcopy(once)
    assert isinstance(copied, TextOnceConfig)
    assert copied.filename == cfg.filename
    assert copied.to_dict() == cfg.to_dict()


def test_fusion_runner_logs_dumps_and_saves_the_same_text(tmp_path):
    from mmfusion.engine.runner import build_runner
    from mmfusion.utils.runner_names import set_unique_run_name
    cfg = Config.fromfile(DEMO)
    cfg.work_dir = str(tmp_path)
    cfg.train_cfg.max_iters = 1
    cfg.train_cfg.val_interval = 10
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=1, by_epoch=False)
    set_unique_run_name(cfg, 'config_text_test')
    expected = Config.pretty_text.fget(copy.deepcopy(cfg))
    runner = build_runner(cfg)
    assert isinstance(runner.cfg, TextOnceConfig)
    runner.train()
    dumped = osp.join(runner.work_dir, osp.basename(DEMO))
    with open(dumped) as f:
        assert f.read() == expected
    ckpt = torch.load(
        osp.join(runner.work_dir, 'iter_1.pth'), weights_only=False)
    assert ckpt['meta']['cfg'] == expected
