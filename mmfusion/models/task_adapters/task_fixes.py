# Copyright (c) mmfusion contributors. All rights reserved.
"""Fixes of task-model components, as mmfusion components the task adapter
substitutes when it rewrites a task config (nothing of mmseg or mmdet is
changed for models built without it).

* **mmseg 1.2.2's class-weighted cross-entropy crashes on ignored pixels**:
  with ``class_weight`` set, ``mmseg.models.losses.cross_entropy`` computes
  its average factor as ``class_weight[label]`` without masking
  ``ignore_index``, so any label map with 255 (the task preprocessor's
  padding, e.g. TDFusion's 240x320 task view padded to a multiple of 32, or
  a dataset's ignored regions) raises ``IndexError: index 255 is out of
  bounds`` (upstream open-mmlab/mmsegmentation#3734, #3831, unfixed in
  1.2.2). :class:`MaskedClassWeightCrossEntropyLoss` (registered in
  mmfusion's ``MODELS``, named ``mmfusion.MaskedClassWeightCrossEntropyLoss``
  from mmseg's scope) is mmseg's ``CrossEntropyLoss`` with the factor
  computed the way ``F.cross_entropy`` weighs its terms: the class weights of
  the non-ignored pixels. Identical to upstream wherever upstream runs (no
  ignored pixel), and vectorised. :func:`use_fixed_losses` puts it in place
  of every class-weighted softmax ``CrossEntropyLoss`` of an mmseg config.
* **mmdet 3.3.0's SSD cannot predict**:
  ``BaseDenseHead._predict_by_feat_single`` reads ``self.loss_cls``, which
  ``SSDHead`` (its own loss) never sets. :func:`fix_built_task` gives the
  built head (the instance, not the class) ``loss_cls = None``.
* **``torchvision://`` weights without torchvision, and offline**: mmengine
  resolves ``torchvision://NAME`` (the ImageNet backbones of most mmdet
  configs) by importing torchvision, only to read a URL table mmengine itself
  ships. With ``pretrained='init_cfg'`` and torchvision not installed, the
  adapter writes the URL from that table into the config instead
  (:func:`torchvision_to_urls`); a download that fails names the URL and the
  local cache file it is read from offline
  (:func:`~mmfusion.utils.checkpoint.download_error`, raised by
  ``TaskAdapter.init_weights``).
"""
from typing import List

import torch

from mmfusion.registry import MODELS
from mmfusion.utils.checkpoint import torchvision_url
from .config_walk import walk_config

FIXED_CE = 'MaskedClassWeightCrossEntropyLoss'


def masked_class_weight_cross_entropy(pred,
                                      label,
                                      weight=None,
                                      class_weight=None,
                                      reduction='mean',
                                      avg_factor=None,
                                      ignore_index=-100,
                                      avg_non_ignore=False):
    """mmseg 1.2.2's ``cross_entropy`` with the class-weighted average
    factor masked at ``ignore_index`` (see the module docstring)."""
    import torch.nn.functional as F
    from mmseg.models.losses.utils import weight_reduce_loss
    loss = F.cross_entropy(
        pred,
        label,
        weight=class_weight,
        reduction='none',
        ignore_index=ignore_index)
    if avg_factor is None and reduction == 'mean':
        if class_weight is None:
            if avg_non_ignore:
                avg_factor = label.numel() - (label
                                              == ignore_index).sum().item()
            else:
                avg_factor = label.numel()
        else:
            valid = label != ignore_index
            safe = torch.where(valid, label, torch.zeros_like(label))
            avg_factor = (class_weight.to(pred.device)[safe] * valid).sum()
    if weight is not None:
        weight = weight.float()
    return weight_reduce_loss(
        loss, weight=weight, reduction=reduction, avg_factor=avg_factor)


def register_task_losses() -> None:
    """Define and register :class:`MaskedClassWeightCrossEntropyLoss` (a
    subclass of mmseg's loss: defined when an mmseg task is first built, so
    that importing mmfusion does not import mmseg); idempotent."""
    if FIXED_CE in MODELS.module_dict:
        return
    from mmseg.models.losses import CrossEntropyLoss

    class MaskedClassWeightCrossEntropyLoss(CrossEntropyLoss):
        """mmseg's ``CrossEntropyLoss`` whose class-weighted mean ignores
        ``ignore_index`` pixels (see
        :mod:`mmfusion.models.task_adapters.task_losses`); every argument
        as mmseg's."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            if not self.use_sigmoid and not self.use_mask:
                self.cls_criterion = masked_class_weight_cross_entropy

    # picklable by name, like a module-level class
    MaskedClassWeightCrossEntropyLoss.__module__ = __name__
    MaskedClassWeightCrossEntropyLoss.__qualname__ = FIXED_CE
    MODELS.register_module(
        name=FIXED_CE, module=MaskedClassWeightCrossEntropyLoss)
    globals()[FIXED_CE] = MaskedClassWeightCrossEntropyLoss


def use_fixed_losses(cfg, scope: str = 'mmseg', path: str = '') -> List[str]:
    """Replace every class-weighted softmax ``CrossEntropyLoss`` of mmseg in
    a model config (``mmseg.CrossEntropyLoss``, or ``CrossEntropyLoss`` in
    the ``scope`` ``'mmseg'``) by
    ``mmfusion.MaskedClassWeightCrossEntropyLoss`` (in place), after
    :func:`register_task_losses`; returns where."""
    names = ('mmseg.CrossEntropyLoss', ) + (
        ('CrossEntropyLoss', ) if scope == 'mmseg' else ())
    replaced = []

    def on_dict(node, where):
        if node.get('type') in names and node.get('class_weight') is not None \
                and not node.get('use_sigmoid') and not node.get('use_mask'):
            register_task_losses()
            node['type'] = f'mmfusion.{FIXED_CE}'
            replaced.append(where or 'model')

    walk_config(cfg, on_dict=on_dict, path=path)
    return replaced


def fix_task_config(cfg) -> List[str]:
    """:func:`use_fixed_losses` on the model of a whole task config (an
    mmseg/mmdet training config, e.g. one the task-driven protocol trains),
    in its ``default_scope``; returns where."""
    model = cfg.get('model')
    if not isinstance(model, dict):
        return []
    scope = model.get('_scope_') or cfg.get('default_scope')
    return [f'model.{p}' for p in use_fixed_losses(model, scope)]


def fix_built_task(task: torch.nn.Module) -> List[str]:
    """Fixes of a built task model's modules (in place); returns which."""
    fixed = []
    for name, module in task.named_modules():
        if type(module).__name__ == 'SSDHead' and \
                not hasattr(module, 'loss_cls'):
            module.loss_cls = None  # read by BaseDenseHead's predict
            fixed.append(f'{name}.loss_cls=None')
    return fixed


def torchvision_to_urls(cfg, path: str = '') -> List[str]:
    """Without torchvision, every ``torchvision://NAME`` checkpoint of a
    model config (``init_cfg.checkpoint``, ``pretrained``) becomes its URL
    from mmengine's table (in place); returns what was rewritten."""
    import importlib.util
    if importlib.util.find_spec('torchvision') is not None:
        return []
    rewritten = []

    def on_key(node, key, where):
        value = node[key]
        if key in ('checkpoint', 'pretrained') and isinstance(
                value, str) and value.startswith('torchvision://'):
            node[key] = torchvision_url(value.split('://', 1)[1])
            rewritten.append(f'{where}={value}')
            return True
        return False

    walk_config(cfg, on_key=on_key, path=path)
    return rewritten


def checkpoint_url(name: str) -> str:
    """Where a checkpoint name of mmengine's loaders is downloaded from."""
    if name.startswith(('torchvision://', 'open-mmlab://', 'openmmlab://')):
        short = name.split('://', 1)[1]
        try:
            if name.startswith('torchvision://'):
                return torchvision_url(short)
            from mmengine.runner.checkpoint import get_external_models
            return get_external_models().get(short, name)
        except (KeyError, OSError):
            return name
    return name


def pretrained_urls(model: torch.nn.Module) -> dict:
    """``{name: url}`` of the remote checkpoints the ``Pretrained``
    initialisers of a built model's modules read."""
    urls = {}
    for module in model.modules():
        inits = getattr(module, 'init_cfg', None) or []
        for init in inits if isinstance(inits, (list, tuple)) else [inits]:
            ckpt = init.get('checkpoint') if isinstance(init, dict) else None
            if isinstance(ckpt, str) and '://' in ckpt:
                urls[ckpt] = checkpoint_url(ckpt)
    return urls
