# Copyright (c) mmfusion contributors. All rights reserved.
import copy
from typing import List, Optional, Sequence, Union

import torch
from mmengine.config import Config, ConfigDict
from mmengine.model import BaseModule, revert_sync_batchnorm
from mmengine.registry import DefaultScope
from mmengine.runner.checkpoint import load_checkpoint
from torch import Tensor

from mmfusion.registry import MODELS
from mmfusion.utils import ycbcr_to_rgb

INPUT_FORMATS = ('rgb', 'y', 'gray3')


def _check_package_versions(package: str) -> None:
    """mmseg/mmdet are imported only when a task needs them: check their
    versions there, with a clear message (mmfusion's own checks run on
    import)."""
    import importlib.metadata as metadata

    from mmengine.utils import digit_version
    ranges = {
        'mmseg': ('mmsegmentation', '1.0.0', '1.3.0'),
        'mmdet': ('mmdet', '3.0.0', '3.4.0'),
    }
    if package not in ranges:
        return
    dist, low, high = ranges[package]
    version = metadata.version(dist)
    if not digit_version(low) <= digit_version(version) < digit_version(high):
        raise AssertionError(
            f'{dist}=={version} is used but mmfusion supports {dist}>={low}, '
            f'<{high}; run `bash tools/install.sh`.')


@MODELS.register_module()
class TaskAdapter(BaseModule):
    """Any mmseg segmentor or mmdet detector as the downstream task of fusion.

    The adapter builds the task model from its own config and feeds it the
    fused image exactly as its own data pipeline would feed a real image:
    a 0-255 float image in the pipeline's channel order (BGR, like
    ``LoadImageFromFile``), through the task's own ``data_preprocessor``
    (normalisation, channel conversion, padding, batch metainfo), then
    ``task(inputs, data_samples, mode=...)``. Every step is differentiable, so
    the task loss reaches the fused image and, through it, the fusion net.
    Nothing here knows which model it drives: any mmseg/mmdet model works by
    config.

    Args:
        model: the task model config, inline. Give it ``_scope_='mmseg'`` (or
            ``'mmdet'``) so its nested types resolve in that package. With
            ``cfg_path`` it is merged into the referenced config instead
            (e.g. ``dict(decode_head=dict(num_classes=9))``).
        cfg_path: a config of the task's package, e.g.
            ``'mmseg::deeplabv3plus/deeplabv3plus_r50-d8_4xb2-40k_cityscapes-512x1024.py'``.
        pretrained: ``True`` loads the weights listed for ``cfg_path`` in its
            package's model index; a string is a checkpoint path or URL.
        data_preprocessor: overrides merged into the task's data
            preprocessor config (e.g. ``dict(size=None, size_divisor=32)``
            to drop a fixed crop-size padding).
        input_format: what the task sees: ``'rgb'`` (fused Y recombined with
            the VIS chroma, as SeAFusion/BDLFusion), ``'y'`` (1-channel fused
            Y, as TDFusion's in-loop task nets; the task config must then take
            1 channel and 1-value mean/std), ``'gray3'`` (Y replicated).
        init_cfg: mmengine init config.
    """

    def __init__(self,
                 model: Optional[dict] = None,
                 cfg_path: Optional[str] = None,
                 pretrained: Union[bool, str] = False,
                 data_preprocessor: Optional[dict] = None,
                 input_format: str = 'rgb',
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if input_format not in INPUT_FORMATS:
            raise ValueError(f'input_format must be one of {INPUT_FORMATS}, '
                             f'got {input_format!r}')
        if model is None and cfg_path is None:
            raise ValueError('TaskAdapter needs `model` (a config with '
                             "_scope_='mmseg'/'mmdet') or `cfg_path` "
                             "('mmseg::...')")
        self.input_format = input_format
        self.model = self._build(model, cfg_path, pretrained,
                                 data_preprocessor)
        if not torch.cuda.is_available():
            # SyncBN (common in mmseg configs) cannot run on CPU processes,
            # distributed or not
            self.model = revert_sync_batchnorm(self.model)

    @staticmethod
    def _build(model, cfg_path, pretrained, dp_overrides) -> torch.nn.Module:
        model_path = None
        if cfg_path is not None:
            from mmengine.hub import get_config
            package = cfg_path.split('::')[0]
            _check_package_versions(package)
            cfg = get_config(cfg_path, pretrained=pretrained is True)
            model_cfg = cfg.model
            if 'data_preprocessor' in cfg and \
                    'data_preprocessor' not in model_cfg:
                model_cfg.data_preprocessor = cfg.data_preprocessor
            if model:
                model_cfg = _merge(model_cfg, model)
            model_cfg._scope_ = package
            model_path = cfg.get('model_path') if pretrained is True else None
        else:
            model_cfg = ConfigDict(copy.deepcopy(model))
            package = model_cfg.get('_scope_') or str(
                model_cfg.get('type', '')).split('.')[0]
            _check_package_versions(package)
            if pretrained is True:
                raise ValueError('pretrained=True needs `cfg_path` (its '
                                 'model index names the weights); pass a '
                                 'checkpoint path or URL instead')
        if dp_overrides:
            model_cfg.data_preprocessor = _merge(
                model_cfg.get('data_preprocessor', ConfigDict()),
                dp_overrides)
        scope = model_cfg.get('_scope_')
        with DefaultScope.overwrite_default_scope(scope):
            task = MODELS.build(model_cfg)
        checkpoint = model_path if pretrained is True else (
            pretrained if isinstance(pretrained, str) else None)
        if checkpoint:
            load_checkpoint(task, checkpoint, map_location='cpu')
            task._is_init = True  # keep the weights through init_weights()
        return task

    # ------------------------------------------------------------------
    def to_task_inputs(self, fused_y: Tensor,
                       vis_cbcr: Optional[Tensor] = None) -> List[Tensor]:
        """Fused Y ``(N, 1, H, W)`` in [0, 1] -> list of ``(C, H, W)`` 0-255
        images in the pipeline's (BGR) channel order."""
        if self.input_format == 'y':
            img = fused_y
        elif self.input_format == 'gray3':
            img = fused_y.expand(-1, 3, -1, -1)
        else:
            if vis_cbcr is None:
                raise ValueError("input_format='rgb' needs the VIS chroma")
            img = ycbcr_to_rgb(fused_y.clamp(0, 1), vis_cbcr).flip(1)
        return list(img * 255.)

    def _run(self, fused_y: Tensor, vis_cbcr: Optional[Tensor],
             data_samples: Sequence, mode: str, training: bool):
        data = self.model.data_preprocessor(
            dict(
                inputs=self.to_task_inputs(fused_y, vis_cbcr),
                data_samples=data_samples), training)
        return self.model(**data, mode=mode)

    def forward(self,
                fused_y: Tensor,
                vis_cbcr: Optional[Tensor] = None,
                data_samples: Optional[Sequence] = None,
                mode: str = 'loss'):
        """``mode='loss'``: the task's loss dict on copies of the samples
        (task preprocessors edit samples in place, and the same samples are
        often used twice in one step). ``mode='predict'``: the task's
        predictions written into ``data_samples``."""
        if mode == 'loss':
            return self._run(fused_y, vis_cbcr, copy.deepcopy(data_samples),
                             'loss', True)
        if mode == 'predict':
            results = self._run(fused_y, vis_cbcr, data_samples, 'predict',
                                False)
            # the task's preprocessor moves samples with `.to()`, which
            # copies them: bring the predictions back to the caller's samples
            if data_samples is not None:
                for sample, result in zip(data_samples, results):
                    if result is not sample:
                        for key in result.keys():
                            if key not in sample:
                                setattr(sample, key, getattr(result, key))
                return data_samples
            return results
        if mode == 'tensor':
            return self._run(fused_y, vis_cbcr, data_samples, 'tensor',
                             False)
        raise RuntimeError(f'Invalid mode "{mode}"')


def _merge(base: ConfigDict, overrides: dict) -> ConfigDict:
    """Recursive dict merge with mmengine's semantics (``_delete_`` works)."""
    merged = Config(dict(x=base.to_dict() if hasattr(base, 'to_dict') else
                         dict(base)))
    merged.merge_from_dict(dict(x=overrides))
    return merged.x
