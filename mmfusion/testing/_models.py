# Copyright (c) mmfusion contributors. All rights reserved.
"""Small but real task-model configs for tests and demos (CPU friendly)."""
import copy
import os.path as osp
from functools import lru_cache

#: the one copy of the small segmenter and of the small detector, shared
#: with the demo and task-gain configs (they inherit them as
#: ``_base_.tiny_segmentor`` / ``_base_.tiny_detector``)
TINY_SEGMENTOR_BASE = 'configs/_base_/models/tiny_deeplabv3plus.py'
TINY_DETECTOR_BASE = 'configs/_base_/models/tiny_retinanet.py'


@lru_cache(maxsize=None)
def _base_variable(base: str, name: str) -> dict:
    """The variable ``name`` of the shipped base config ``base``."""
    from mmengine.config import Config
    package = osp.dirname(osp.dirname(osp.abspath(__file__)))
    # the repository (editable install, clone) or the installed package
    for root in (osp.dirname(package), osp.join(package, '.mim')):
        path = osp.join(root, base)
        if osp.isfile(path):
            return Config.fromfile(path)[name].to_dict()
    raise FileNotFoundError(
        f'{base} is in neither the repository nor '
        f'{package}/.mim: reinstall mmfusion (pip install -e .)')


def tiny_segmentor(num_classes=9, in_channels=3):
    """A small but real mmseg DeepLabV3+: the shared base config
    (``configs/_base_/models/tiny_deeplabv3plus.py``) at 1/8 width
    (ResNetV1c-18 with 8 base channels), ``in_channels`` inputs normalised
    with the first ``in_channels`` ImageNet means/stds, padded to a multiple
    of 32."""
    base = copy.deepcopy(_base_variable(TINY_SEGMENTOR_BASE, 'tiny_segmentor'))
    data_preprocessor = base['data_preprocessor']
    data_preprocessor.update(
        mean=data_preprocessor['mean'][:in_channels],
        std=data_preprocessor['std'][:in_channels],
        size_divisor=32)
    base['backbone'].update(in_channels=in_channels, base_channels=8)
    base['decode_head'].update(
        in_channels=64,
        channels=16,
        c1_in_channels=8,
        c1_channels=8,
        num_classes=num_classes)
    return dict(_scope_='mmseg', **base)


def tiny_detector(num_classes=3):
    """A small but real mmdet RetinaNet: the shared base config
    (``configs/_base_/models/tiny_retinanet.py``, ResNet-18 at 1/8 width,
    FPN) with ``num_classes`` classes."""
    base = copy.deepcopy(_base_variable(TINY_DETECTOR_BASE, 'tiny_detector'))
    base['bbox_head'].update(num_classes=num_classes)
    return dict(_scope_='mmdet', **base)
