# Copyright (c) mmfusion contributors. All rights reserved.
"""One walk over a model config for the rewrites of the task adapter
(:func:`~.task_adapter.clear_pretrained`,
:func:`~.task_adapter.resolve_package_paths`,
:func:`~.task_adapter.torchvision_ops_to_mmcv`,
:func:`~.task_fixes.torchvision_to_urls`,
:func:`~.task_fixes.use_fixed_losses`)."""
from typing import Callable, Optional


def walk_config(cfg,
                on_dict: Optional[Callable[[dict, str], None]] = None,
                on_key: Optional[Callable[[dict, str, str], bool]] = None,
                path: str = '') -> None:
    """Visit every dict of a config (dicts, lists and tuples nested at any
    depth), depth first and in key order, for in-place rewrites.

    ``on_dict(node, where)`` sees each dict before its entries;
    ``on_key(node, key, where)`` sees each entry of it and returns True when
    it handled the entry, whose value (possibly replaced) is then not walked
    into. ``where`` names the place the way the rewrites report it:
    ``backbone.init_cfg``, ``model.roi_head[0]`` (``path`` prefixes it; the
    root is ``''``). A rewrite collects what it changed in its callbacks.
    """
    if isinstance(cfg, (list, tuple)):
        for i, item in enumerate(cfg):
            walk_config(item, on_dict, on_key, f'{path}[{i}]')
        return
    if not isinstance(cfg, dict):
        return
    if on_dict is not None:
        on_dict(cfg, path)
    for key in list(cfg.keys()):
        where = f'{path}.{key}' if path else key
        if on_key is not None and on_key(cfg, key, where):
            continue
        walk_config(cfg[key], on_dict, on_key, where)
