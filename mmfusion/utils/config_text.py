# Copyright (c) mmfusion contributors. All rights reserved.
"""A config's Python text, formatted once per content.

mmengine formats a config's text with yapf (``Config.pretty_text``), which
takes seconds for a task-driven config (fusion net, loss, strategy and a
whole mmseg/mmdet model), and asks for it again and again in one run: the
log, the dump into the work dir, the visualizer's copy, the message hub and
every checkpoint's meta, besides mmfusion's own run identities. The text
depends on the content only, so it is kept per content (the key is the
``repr`` of the plain dict, milliseconds): the same text, made once.
"""
from collections import OrderedDict

from mmengine.config import Config

__all__ = ['pretty_text', 'TextOnceConfig']

_CACHE: 'OrderedDict[str, str]' = OrderedDict()
_CACHE_SIZE = 64


def pretty_text(cfg: Config) -> str:
    """``cfg.pretty_text``, formatted once per content in this process."""
    key = repr((cfg._format_python_code, cfg._cfg_dict.to_dict()))
    text = _CACHE.get(key)
    if text is None:
        text = Config.pretty_text.fget(cfg)
        _CACHE[key] = text
        if len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    else:
        _CACHE.move_to_end(key)
    return text


class TextOnceConfig(Config):
    """A :class:`~mmengine.config.Config` whose ``pretty_text`` (and so
    ``dump``) is :func:`pretty_text`: what :class:`FusionRunner` keeps as
    ``runner.cfg``. Behaves as the config it was made from otherwise."""

    @property
    def pretty_text(self) -> str:
        return pretty_text(self)

    @classmethod
    def of(cls, cfg: Config) -> 'TextOnceConfig':
        """A copy of ``cfg`` (all of its state) as this class."""
        other = cls.__new__(cls)
        for key, value in cfg.__dict__.items():
            object.__setattr__(other, key, value)
        return other
