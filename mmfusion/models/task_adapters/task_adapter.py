# Copyright (c) mmfusion contributors. All rights reserved.
import copy
import importlib.util
import logging
from typing import List, Optional, Sequence, Set, Union

import numpy as np
import torch
from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log
from mmengine.model import BaseModule, revert_sync_batchnorm
from mmengine.registry import DefaultScope
from mmengine.structures import PixelData
from torch import Tensor

from mmfusion.registry import MODELS
from mmfusion.utils import ycbcr_to_rgb
from mmfusion.utils.checkpoint import download_error, load_model_checkpoint
from mmfusion.version import check_mm_version
from .config_walk import walk_config
from .task_fixes import (checkpoint_url, fix_built_task, pretrained_urls,
                         torchvision_to_urls, use_fixed_losses)

INPUT_FORMATS = ('rgb', 'y', 'gray3', 'rgb_minmax')
# pretrained='init_cfg': keep the task config's own pretrained initialisation
KEEP_INIT_CFG = 'init_cfg'
# weight initialisers that read a checkpoint (mmengine's PretrainedInit)
_PRETRAINED_INITS = ('Pretrained', 'PretrainedInit')
# string/True options of a model config that make it fetch weights itself
_PRETRAINED_KEYS = ('pretrained', 'teacher_ckpt')
# the largest stride of a detector's feature pyramid that necks concatenate
# across (P3-P5): detectors' inputs are padded to a multiple of it
_DET_STRIDE = 32
# task data-preprocessor batch augments that change the input geometry: the
# fusion algorithm decides the view the task sees (e.g. TDFusion's
# task_input_size), the task's preprocessor only pads it
_GEOMETRIC_BATCH_AUGMENTS = ('BatchFixedSizePad', 'BatchSyncRandomResize',
                             'BatchResize')
# metainfo a task's test pipeline records and its predict reads
_PREDICT_META = dict(scale_factor=(1., 1.), border=(0., 0., 0., 0.))
# backbones whose position tables are fixed to their training input (no
# interpolation upstream): the fused image is padded to the config's size
_FIXED_INPUT_BACKBONES = ('BEiT', 'MAE')


def _check_package_versions(package: str) -> None:
    """mmseg/mmdet are imported only when a task needs them: check their
    versions there, with a clear message (mmfusion's own checks run on
    import)."""
    if package not in ('mmseg', 'mmdet'):
        return
    check_mm_version(package)  # the ranges: mmfusion/version.py


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
        pretrained: where the task's weights come from.

            - ``False`` (default): nowhere; nothing is downloaded. Every
              ``init_cfg`` of type ``Pretrained`` and every ``pretrained=``
              (and ``teacher_ckpt=``) in the model config (backbone, neck,
              heads, nested backbones) is cleared, and what was cleared is
              logged: the task trains from its random initialisation.
            - ``True``: the weights listed for ``cfg_path`` in its package's
              model index (the pretrained inits are cleared too: the full
              checkpoint replaces them).
            - a string: a checkpoint path or URL for the whole task.
            - ``'init_cfg'``: keep the config's own pretrained initialisation
              (e.g. its ImageNet backbone, applied by ``init_weights``).
              ``torchvision://`` names resolve without torchvision (see
              :mod:`~mmfusion.models.task_adapters.task_fixes`).

            A checkpoint that cannot be fetched names its URL and the local
            file to pass instead.
        data_preprocessor: overrides merged into the task's data
            preprocessor config (e.g. ``dict(mean=[127.5], std=[127.5])``).
        fit_preprocessor: make the task's preprocessor fit the fused input
            (default): a segmentor's fixed ``size`` (mmseg configs pad every
            image to their training crop, e.g. 512x1024) becomes padding to
            ``size_divisor`` (the config's, else 32), also at test time, and
            detector batch augments that resize or pad to a fixed size
            (``BatchSyncRandomResize``, ``BatchFixedSizePad``) are dropped:
            the fusion algorithm decides the view the task sees. A ``size``
            given in ``data_preprocessor`` (or ``model``) is kept, and so is
            the config's for backbones whose position tables are fixed to it
            (BEiT, MAE: the fused image is padded to that size).
        input_format: what the task sees: ``'rgb'`` (fused Y recombined with
            the VIS chroma, as SeAFusion/BDLFusion), ``'y'`` (1-channel fused
            Y, as TDFusion's in-loop task nets; the task config must then take
            1 channel and 1-value mean/std), ``'gray3'`` (Y replicated),
            ``'rgb_minmax'`` (BDLFusion's released code: the fused Y, not
            clamped, recombined with the VIS chroma, the RGB clamped to
            [0, 1] and min-max stretched over the whole batch).
        init_cfg: mmengine init config.
    """

    def __init__(self,
                 model: Optional[dict] = None,
                 cfg_path: Optional[str] = None,
                 pretrained: Union[bool, str] = False,
                 data_preprocessor: Optional[dict] = None,
                 input_format: str = 'rgb',
                 fit_preprocessor: bool = True,
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
        self.name = cfg_path or str((model or {}).get('type'))
        self.model = self._build(model, cfg_path, pretrained,
                                 data_preprocessor, fit_preprocessor)
        self.needed_targets = needed_targets(self.model)
        self.package = type(self.model).__module__.split('.')[0]
        if pretrained is False:
            frozen = frozen_norm_modules(self.model)
            if frozen:
                print_log(
                    f'TaskAdapter({self.name}, pretrained=False): '
                    f'{", ".join(frozen)} keep(s) BN statistics frozen '
                    '(norm_eval=True), which the config means for pretrained '
                    'weights: from random weights they stay the identity '
                    '(mean 0, variance 1) and activations are not normalised '
                    '(some models diverge, e.g. DetectoRS). To train from '
                    'scratch, let them train: model=dict(backbone=dict('
                    'norm_eval=False)); or start from weights: '
                    "pretrained='init_cfg' / True / a checkpoint.",
                    logger='current',
                    level=logging.WARNING)
        if not torch.cuda.is_available():
            # SyncBN (common in mmseg configs) cannot run on CPU processes,
            # distributed or not
            self.model = revert_sync_batchnorm(self.model)

    @staticmethod
    def _build(model,
               cfg_path,
               pretrained,
               dp_overrides,
               fit_preprocessor=True) -> torch.nn.Module:
        if not (isinstance(pretrained, (bool, str))):
            raise TypeError('pretrained must be True, False, a checkpoint '
                            f"path/URL or {KEEP_INIT_CFG!r}, got "
                            f'{pretrained!r}')
        model_path = None
        user = dict(model or {})
        if cfg_path is not None:
            package = cfg_path.split('::')[0]
            _check_package_versions(package)
            cfg = _get_config(cfg_path, pretrained is True)
            model_cfg = cfg.model
            if 'data_preprocessor' in cfg and \
                    'data_preprocessor' not in model_cfg:
                model_cfg.data_preprocessor = cfg.data_preprocessor
            if model:
                model_cfg = _merge(model_cfg, model)
            model_cfg._scope_ = package
            model_path = cfg.get('model_path') if pretrained is True else None
            if pretrained is True and not model_path:
                raise ValueError(
                    f'pretrained=True: the model index of {package} lists no '
                    f'weights for {cfg_path}; pass a checkpoint path instead')
        else:
            model_cfg = ConfigDict(copy.deepcopy(model))
            package = model_cfg.get('_scope_') or str(
                model_cfg.get('type', '')).split('.')[0]
            _check_package_versions(package)
            if pretrained is True:
                raise ValueError('pretrained=True needs `cfg_path` (its '
                                 'model index names the weights); pass a '
                                 'checkpoint path or URL instead')
        name = cfg_path or str(model_cfg.get('type'))
        resolved = resolve_package_paths(model_cfg, package)
        if resolved:
            print_log(
                f'TaskAdapter({name}): config paths resolved in the installed '
                f'{package}: {", ".join(resolved)}',
                logger='current')
        swapped = torchvision_ops_to_mmcv(model_cfg)
        if swapped:
            print_log(
                f'TaskAdapter({name}): torchvision is not installed: mmcv\'s '
                f'own op instead of torchvision\'s for {", ".join(swapped)}',
                logger='current')
        if pretrained != KEEP_INIT_CFG:
            cleared = clear_pretrained(model_cfg)
            if cleared:
                print_log(
                    f'TaskAdapter({name}, pretrained={pretrained!r}): cleared '
                    f'the config\'s own pretrained weights: '
                    f'{", ".join(cleared)}',
                    logger='current')
        else:
            _log_changes(
                name, 'torchvision is not installed: mmengine\'s '
                'URL instead of', torchvision_to_urls(model_cfg))
        _log_changes(
            name, 'ignored pixels masked in the class-weighted '
            'CrossEntropyLoss (mmfusion.MaskedClassWeightCrossEntropyLoss) '
            'of', use_fixed_losses(model_cfg, package))
        if dp_overrides:
            model_cfg.data_preprocessor = _merge(
                model_cfg.get('data_preprocessor', ConfigDict()), dp_overrides)
        if fit_preprocessor and model_cfg.get('data_preprocessor'):
            backbone = str(model_cfg.get('backbone', {}).get('type', ''))
            keep_size = 'size' in (dp_overrides or {}) or 'size' in user.get(
                'data_preprocessor',
                {}) or backbone.split('.')[-1] in _FIXED_INPUT_BACKBONES
            changes = fit_data_preprocessor(model_cfg.data_preprocessor,
                                            keep_size)
            if changes:
                print_log(
                    f'TaskAdapter({name}): data_preprocessor fitted to the '
                    f'fused input: {", ".join(changes)}',
                    logger='current')
        scope = model_cfg.get('_scope_')
        with DefaultScope.overwrite_default_scope(scope):
            task = MODELS.build(model_cfg)
        _log_changes(name, 'fixed', fix_built_task(task))
        checkpoint = model_path if pretrained is True else (
            pretrained if isinstance(pretrained, str)
            and pretrained != KEEP_INIT_CFG else None)
        if checkpoint:
            load_task_checkpoint(task, checkpoint, name)
            task._is_init = True  # keep the weights through init_weights()
        return task

    def init_weights(self) -> None:
        """The task's own initialisation; a checkpoint of its config that
        cannot be downloaded names its URL and the local file to use."""
        from urllib.error import URLError
        try:
            super().init_weights()
        except (URLError, ConnectionError, TimeoutError) as e:
            urls = pretrained_urls(self.model)
            if not urls:
                raise
            raise download_error(urls, e) from e

    # ------------------------------------------------------------------
    def check_targets(self, data_samples: Sequence) -> None:
        """Raise if the samples lack a target the task needs and the
        adapter cannot derive (e.g. instance masks for Mask R-CNN), naming
        the task and the missing field."""
        for sample in data_samples or ():
            missing = missing_targets(self.needed_targets, sample)
            if missing:
                raise ValueError(
                    f'the task {self.name} ({type(self.model).__name__}) '
                    f'needs {" and ".join(missing)}, which the data samples '
                    'do not have. ' +
                    ' '.join(_HOW_TO_GET[m]
                             for m in missing if m in _HOW_TO_GET))

    def _with_derived_targets(self, data_samples: Sequence) -> Sequence:
        """Targets the task's own pipeline would derive from the loaded
        labels (PIDNet's edge map: mmseg's ``GenerateEdge``), when the
        samples do not carry them already."""
        if 'gt_edge_map' in self.needed_targets:
            for sample in data_samples:
                if 'gt_edge_map' not in sample and 'gt_sem_seg' in sample:
                    sample.gt_edge_map = edge_map(sample.gt_sem_seg)
        if self.package == 'mmdet':
            # mmdet's panoptic / semantic heads read the map as `sem_seg`
            # (its PackDetInputs), mmseg as `data` (PackSegInputs)
            for sample in data_samples:
                seg = sample.get('gt_sem_seg')
                if seg is not None and 'data' in seg and 'sem_seg' not in seg:
                    seg.sem_seg = seg.data
        return data_samples

    # ------------------------------------------------------------------
    def to_task_inputs(self,
                       fused_y: Tensor,
                       vis_cbcr: Optional[Tensor] = None) -> List[Tensor]:
        """Fused Y ``(N, 1, H, W)`` in [0, 1] -> list of ``(C, H, W)`` 0-255
        images in the pipeline's (BGR) channel order."""
        if self.input_format == 'y':
            img = fused_y
        elif self.input_format == 'gray3':
            img = fused_y.expand(-1, 3, -1, -1)
        else:
            if vis_cbcr is None:
                raise ValueError(
                    f'input_format={self.input_format!r} needs the VIS chroma')
            if self.input_format == 'rgb_minmax':
                img = ycbcr_to_rgb(fused_y, vis_cbcr)  # (clamped RGB)
                low, high = img.min(), img.max()
                img = ((img - low) / (high - low).clamp_min(1e-12)).flip(1)
            else:
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
            samples = self._with_derived_targets(copy.deepcopy(data_samples))
            self.check_targets(samples)
            return self._run(fused_y, vis_cbcr, samples, 'loss', True)
        if mode == 'predict':
            for sample in data_samples or ():
                # what the task's own test pipeline would have recorded, for
                # the fused image as it is (mmdet.Resize: scale_factor;
                # RandomCenterCropPad of CenterNet/CornerNet: border)
                sample.set_metainfo({
                    k: v
                    for k, v in _PREDICT_META.items() if k not in sample
                })
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
            return self._run(fused_y, vis_cbcr, data_samples, 'tensor', False)
        raise RuntimeError(f'Invalid mode "{mode}"')


def _merge(base: ConfigDict, overrides: dict) -> ConfigDict:
    """Recursive dict merge with mmengine's semantics (``_delete_`` works)."""
    merged = Config(
        dict(x=base.to_dict() if hasattr(base, 'to_dict') else dict(base)))
    merged.merge_from_dict(dict(x=overrides))
    return merged.x


# ---------------------------------------------------------------- helpers
def _get_config(cfg_path: str, pretrained: bool) -> Config:
    """``mmengine.hub.get_config``; a folder name its path pattern rejects
    (mmdet's ``gn+ws``) is read from the installed package directly."""
    from mmengine.hub import get_config
    try:
        return get_config(cfg_path, pretrained=pretrained)
    except ValueError:
        import importlib
        import os.path as osp
        package, rel = cfg_path.split('::', 1)
        path = osp.join(
            osp.dirname(importlib.import_module(package).__file__), '.mim',
            'configs', rel)
        if pretrained or not osp.isfile(path):
            raise
        return Config.fromfile(path)


def clear_pretrained(cfg, path: str = '') -> List[str]:
    """Remove every pretrained-weight source from a model config, in place:
    ``init_cfg`` of type ``Pretrained`` or naming a ``checkpoint`` (also
    inside lists), and
    ``pretrained`` / ``teacher_ckpt`` strings and ``True`` flags (set to
    ``None``), at any depth. Returns what was cleared (``path=value``)."""
    cleared = []

    def on_key(node, key, where):
        value = node[key]
        if key == 'init_cfg' and value:
            inits = value if isinstance(value, (list, tuple)) else [value]
            # a Pretrained initialiser, or any init_cfg naming a checkpoint
            # (mmdet's PVT / Swin read init_cfg.checkpoint themselves,
            # without a type)
            kept = [
                v for v in inits if not (isinstance(v, dict) and (
                    v.get('type') in _PRETRAINED_INITS or v.get('checkpoint')))
            ]
            for v in inits:
                if v not in kept:
                    cleared.append(f'{where}={v.get("checkpoint")}')
            if len(kept) != len(inits):
                node[key] = (kept or None) if isinstance(value,
                                                         (list,
                                                          tuple)) else None
            return True
        if key in _PRETRAINED_KEYS and (isinstance(value, str)
                                        or value is True):
            cleared.append(f'{where}={value}')
            # None: the "no weights" of every mmseg/mmdet (and timm) option
            node[key] = None
            return True
        return False

    walk_config(cfg, on_key=on_key, path=path)
    return cleared


def torchvision_ops_to_mmcv(cfg, path: str = '') -> List[str]:
    """Without torchvision, ``RoIAlign(use_torchvision=True)`` (CrowdDet)
    uses mmcv's own implementation of the same op (in place); returns
    where."""
    import importlib.util
    if importlib.util.find_spec('torchvision') is not None:
        return []
    swapped = []

    def on_dict(node, where):
        if node.get('use_torchvision') is True:
            node['use_torchvision'] = False
            swapped.append(f'{where} ({node.get("type")})')

    walk_config(cfg, on_dict=on_dict, path=path)
    return swapped


def resolve_package_paths(cfg, package: str, path: str = '') -> List[str]:
    """Config paths of a zoo model written relative to its package's source
    tree (mmdet's distillers: ``teacher_config='configs/gfl/...'``) are read
    from the installed package's configs instead, and inlined (in place).
    Returns what was resolved."""
    import importlib
    import os.path as osp
    resolved = []

    def on_key(node, key, where):
        value = node[key]
        if not (key.endswith('_config') and isinstance(value, str)
                and value.startswith('configs/') and not osp.exists(value)):
            return False
        try:
            root = osp.join(
                osp.dirname(importlib.import_module(package).__file__), '.mim')
        except ImportError:
            return True
        candidate = osp.join(root, value)
        if osp.exists(candidate):
            # inlined, so its own pretrained sources are seen (and
            # cleared with pretrained=False) like the rest
            node[key] = ConfigDict(
                model=Config.fromfile(candidate).model.to_dict())
            resolved.append(f'{where}={value}')
        return True

    walk_config(cfg, on_key=on_key, path=path)
    return resolved


def fit_data_preprocessor(dp: dict, keep_size: bool = False) -> List[str]:
    """Make a task's data preprocessor config pad the fused input instead of
    resizing/padding it to the task's training size (in place); returns the
    changes made."""
    changes = []
    if dp.get('size') is not None and keep_size:
        if dp.get('test_cfg') is None:  # (mmseg's: a `size` is mmseg's)
            # pad at test time too (predictions are cropped back)
            dp['test_cfg'] = dict(size=tuple(dp['size']))
            changes.append(f'test_cfg=dict(size={tuple(dp["size"])})')
    elif dp.get('size') is not None:
        divisor = dp.get('size_divisor') or 32
        changes.append(f'size={tuple(dp["size"])} -> None, size_divisor='
                       f'{divisor}')
        dp['size'] = None
        dp['size_divisor'] = divisor
        if dp.get('test_cfg') is None:
            dp['test_cfg'] = dict(size_divisor=divisor)
    if str(dp.get('type', '')).split('.')[-1] == 'DetDataPreprocessor' \
            and (dp.get('pad_size_divisor') or 1) < _DET_STRIDE:
        # a detector's pipeline pads its images (RTMDet's Pad to 640 x 640);
        # the fused input skips that pipeline, and a neck that concatenates
        # upsampled maps (CSPNeXt-PAFPN) needs sizes divisible by its stride
        changes.append(f"pad_size_divisor={dp.get('pad_size_divisor')} -> "
                       f'{_DET_STRIDE}')
        dp['pad_size_divisor'] = _DET_STRIDE
    augments = dp.get('batch_augments')
    if augments:
        kept = [
            a for a in augments if str(a.get('type', '')).split('.')[-1] not in
            _GEOMETRIC_BATCH_AUGMENTS
        ]
        if len(kept) != len(augments):
            changes.append('batch_augments ' +
                           ', '.join(a['type']
                                     for a in augments if a not in kept) +
                           ' dropped')
            dp['batch_augments'] = kept or None
    return changes


def needed_targets(task: torch.nn.Module) -> Set[str]:
    """The targets a built mmseg/mmdet model reads: ``'gt_sem_seg'``
    (segmentors) or ``'gt_instances'`` (detectors: boxes and labels), and
    ``'gt_edge_map'`` (PIDNet's boundary head) and ``'gt_instances.masks'``
    (instance segmentation: Mask R-CNN and family, SOLO, CondInst, YOLACT,
    RTMDet-Ins, Mask2Former ...)."""
    package = type(task).__module__.split('.')[0]
    needs = {'gt_sem_seg'} if package == 'mmseg' else {'gt_instances'}
    for module in task.modules():
        name = type(module).__name__
        if name == 'PIDHead':
            needs.add('gt_edge_map')
        if name == 'BoxInst':  # trains masks from boxes (its own pairwise
            return needs  # affinity loss): no mask annotation needed
    if package == 'mmdet':
        with_mask = getattr(task, 'with_mask', False) or any(
            getattr(task, attr, None) is not None
            for attr in ('mask_head', 'panoptic_head'))
        roi_head = getattr(task, 'roi_head', None)
        if roi_head is not None and getattr(roi_head, 'with_mask', False):
            with_mask = True
        if with_mask:
            needs.add('gt_instances.masks')
    return needs


def frozen_norm_modules(task: torch.nn.Module) -> List[str]:
    """Names of the modules of ``task`` that keep the statistics of their
    batch norms frozen (``norm_eval=True``: mmdet/mmseg ResNets and the like
    put them in eval mode in ``train()``), outermost only."""
    from torch.nn.modules.batchnorm import _BatchNorm
    names = []
    for name, module in task.named_modules():
        if not getattr(module, 'norm_eval', False) or any(
                name.startswith(n + '.') for n in names):
            continue
        if any(isinstance(m, _BatchNorm) for m in module.modules()):
            names.append(name)
    return names


def missing_targets(needs: Set[str], sample) -> List[str]:
    """The ``needs`` (:func:`needed_targets`) a data sample lacks; an edge
    map counts as present when the semantic map it is derived from is."""
    missing = []
    for need in sorted(needs):
        if need == 'gt_sem_seg' and need not in sample:
            missing.append(need)
        elif need == 'gt_instances' and ('gt_instances' not in sample or
                                         'bboxes' not in sample.gt_instances):
            missing.append('gt_instances (boxes and labels)')
        elif need == 'gt_edge_map':
            if 'gt_edge_map' not in sample and 'gt_sem_seg' not in sample:
                missing.append('gt_edge_map (or gt_sem_seg to derive it)')
        elif need == 'gt_instances.masks':
            instances = sample.get('gt_instances')
            if instances is None or 'masks' not in instances:
                missing.append('gt_instances.masks')
    return missing


_HOW_TO_GET = {
    'gt_sem_seg':
    'Load the masks: mmseg.LoadAnnotations in the pipeline of a dataset '
    "with a 'seg' folder (configs/_base_/datasets/msrs.py).",
    'gt_instances (boxes and labels)':
    'Load the boxes: mmdet.LoadAnnotations(with_bbox=True, with_label=True) '
    "in the pipeline of a dataset with a 'det' folder "
    '(configs/_base_/datasets/msrs_det.py, m3fd.py).',
    'gt_instances.masks':
    'Load instance masks (mmdet.LoadAnnotations(with_mask=True) on a '
    'dataset whose instances have masks, e.g. YOLO segmentation polygons), '
    "or derive them from the boxes with dict(type='MasksFromBoxes') in the "
    'pipeline (docs/task_models.md).',
}


def edge_map(sem_seg: PixelData,
             edge_width: int = 4,
             ignore_index: int = 255) -> PixelData:
    """PIDNet's boundary target of a semantic map, by mmseg's own
    ``GenerateEdge`` (the transform of PIDNet's training pipeline)."""
    from mmseg.datasets.transforms import GenerateEdge
    seg = sem_seg.data[0].cpu().numpy().astype(np.uint8)
    edge = GenerateEdge(
        edge_width=edge_width, ignore_index=ignore_index)(
            dict(gt_seg_map=seg, img_shape=seg.shape))
    return PixelData(
        data=torch.from_numpy(edge['gt_edge_map'][None].astype(np.int64)).to(
            sem_seg.data.device))


def load_task_checkpoint(task: torch.nn.Module, checkpoint: str,
                         name: str) -> None:
    """``load_checkpoint`` that says what to do when the file cannot be
    fetched (no network) instead of a bare ``URLError``."""
    from urllib.error import URLError
    if checkpoint.startswith('torchvision://') and \
            importlib.util.find_spec('torchvision') is None:
        checkpoint = checkpoint_url(checkpoint)
    try:
        load_model_checkpoint(task, checkpoint, map_location='cpu')
    except (URLError, ConnectionError, TimeoutError) as e:
        if not _is_remote(checkpoint):
            raise
        raise download_error({name: checkpoint_url(checkpoint)}, e) from e


def _log_changes(name: str, what: str, where: List[str]) -> None:
    if where:
        print_log(
            f'TaskAdapter({name}): {what} {", ".join(where)}',
            logger='current')


def _is_remote(checkpoint: str) -> bool:
    return '://' in checkpoint
