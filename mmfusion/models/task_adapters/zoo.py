# Copyright (c) mmfusion contributors. All rights reserved.
"""Can a zoo model be the task of a fusion strategy, by config only?

The library side of ``tools/analysis_tools/check_task_zoo.py`` (the tool is
its command line). For each family folder of the installed mmseg and mmdet
config zoos, :func:`families` picks one representative config;
:func:`build` puts it into a shipped strategy config exactly as the README's
"swap the task" example does::

    model = dict(task=dict(_delete_=True, type='TaskAdapter',
                           cfg_path='mmdet::retinanet/retinanet_r50_fpn_1x_coco.py',
                           model=dict(bbox_head=dict(num_classes=3))))

with the overrides a user writes to put the model on MSRS
(:func:`num_classes_overrides`: every head's classes, class weights and, for
the families of :data:`TRAIN_NORM`, trainable BN statistics), and
:func:`check` builds it, takes one step of every phase and one prediction on
real MSRS pairs (``data/msrs_demo``), and returns a result row. Nothing is
downloaded (``pretrained=False``). The table of the whole zoo is in
``docs/task_models.md``.
"""
import contextlib
import gc
import importlib
import inspect
import json
import os
import os.path as osp
import re
import signal
import time
import traceback

import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.logging import MessageHub, MMLogger
from mmengine.registry import init_default_scope

from mmfusion.registry import DATASETS, MODELS, OPTIM_WRAPPER_CONSTRUCTORS
from mmfusion.structures.phases import phase_scope, spec_of
from .task_adapter import _get_config, _merge

#: the repository of an editable install (its ``configs/`` and the demo
#: pairs ``data/msrs_demo``)
REPO = osp.dirname(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
#: the pairs the check trains and predicts on
DATA_ROOT = osp.join(REPO, 'data', 'msrs_demo')

STRATEGIES = {
    # strategy: (shipped config whose task is swapped, phases)
    'tdfusion': ('configs/tdfusion/segformer_msrs.py', ('meta', 'fusion')),
    # an 'upper' iteration takes the leader's hypergradient step and then
    # the followers' lower step on the same batch: it covers both phases
    'bdlfusion':
    ('configs/bdlfusion/bdlfusion_drdb_deeplabv3plus_msrs.py', ('upper', )),
    # in the schedule's order: a round's task phase, then the next round's
    # fusion phase with the semantic loss of the (frozen) task
    'seafusion':
    ('configs/seafusion/seafusion_joint_msrs.py', ('task', 'fusion')),
    # a 'joint' iteration takes every update (generator with the adversarial
    # terms, detector, both critics); 'warmup' only drops the adversarial
    # terms. Detectors only: the target mask is made of the boxes
    'tardal': ('configs/tardal/tardal_retinanet_msrs.py', ('joint', )),
}


def strategy_config(strategy: str) -> str:
    """The file of ``strategy``'s shipped config (:data:`STRATEGIES`): in
    the repository, or in the installed package (``mmfusion/.mim``)."""
    base = STRATEGIES[strategy][0]
    path = osp.join(REPO, base)
    if not osp.isfile(path):  # an installed (non-editable) package
        path = osp.join(
            osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))),
            '.mim', base)
    return path


# narrow variants (same classes, fewer channels) of the strategies' own
# networks: the check is about the task in every phase, and on a CPU the
# shipped fusion nets' second-order steps dominate the time (TDFusion's meta
# step: ~45 s of ~55 s per family); --fusion-nets shipped keeps them
NARROW = {
    'tdfusion':
    dict(
        fusion_net=dict(type='ReFusionNet', dim=8, num_blocks=1, num_heads=2),
        loss_generator=dict(
            type='TDFusionLossGenerator', dim=8, num_blocks=1, num_heads=2)),
    'bdlfusion':
    dict(
        fusion_net=dict(
            type='DRDBFusionNet', channels=8, growth=8, num_blocks=1)),
    'seafusion':
    dict(fusion_net=dict(type='SeAFusionNet', channels=(4, 8, 12))),
    'tardal':
    dict(
        fusion_net=dict(type='TarDALGenerator', dim=8, depth=2),
        target_discriminator=dict(dim=8, resize_input=True),
        detail_discriminator=dict(dim=8, resize_input=True)),
}

# families that are not a (2-D, single-image, closed-set) segmentor or
# detector, so cannot be the task of image fusion, and folders holding no
# model
SKIP = {
    'mmseg': {
        '_base_': 'base configs only (no model family)',
        'san': 'text-prompted (open-vocabulary, CLIP text encoder)',
        'vpd': 'depth estimation with a text-conditioned diffusion model',
        'dsdl': 'dataset-only folder (DSDL dataset configs)',
    },
    'mmdet': {
        '_base_': 'base configs only (no model family)',
        'common': 'shared training settings only (no model family)',
        'dsdl': 'dataset-only folder (DSDL dataset configs)',
        'glip': 'text-prompted (grounding)',
        'grounding_dino': 'text-prompted (grounding)',
        'mm_grounding_dino': 'text-prompted (grounding)',
        'detic': 'text-prompted (open-vocabulary, CLIP text classifier)',
        'detic_new': 'text-prompted (open-vocabulary, CLIP text classifier)',
        'bytetrack': 'video (multi-object tracking)',
        'deepsort': 'video (multi-object tracking)',
        'ocsort': 'video (multi-object tracking)',
        'qdtrack': 'video (multi-object tracking)',
        'sort': 'video (multi-object tracking)',
        'strongsort': 'video (multi-object tracking)',
        'masktrack_rcnn': 'video (instance segmentation and tracking)',
        'mask2former_vis': 'video (instance segmentation)',
        'reid': 'video (re-identification of tracked objects)',
        'legacy_1.x': 'configs of mmdet 1.x (kept upstream for reference)',
        'timm_example': 'example of an optional package (timm) backbone',
        'lvis': 'dataset variants (LVIS) of families listed elsewhere',
        'objects365': 'dataset variants (Objects365) of families listed '
        'elsewhere',
        'openimages': 'dataset variants (OpenImages) of families listed '
        'elsewhere',
        'cityscapes': 'dataset variants (Cityscapes) of families listed '
        'elsewhere',
        'pascal_voc': 'dataset variants (Pascal VOC) of families listed '
        'elsewhere',
        'wider_face': 'dataset variants (WIDER Face) of families listed '
        'elsewhere',
        'strong_baselines': 'training recipes (LSJ, copy-paste) of Mask '
        'R-CNN, listed elsewhere',
        'simple_copy_paste': 'training recipe (copy-paste augmentation) of '
        'Mask R-CNN, listed elsewhere',
        'selfsup_pretrain': 'self-supervised backbone weights for Mask '
        'R-CNN, listed elsewhere',
        'misc': 'miscellaneous demo configs',
        'albu_example': 'training recipe (Albumentations) of Mask R-CNN, '
        'listed elsewhere',
        'instaboost': 'training recipe (InstaBoost augmentation) of Mask '
        'R-CNN, listed elsewhere',
        'deepfashion': 'dataset variant (DeepFashion) of Mask R-CNN, listed '
        'elsewhere',
        'soft_teacher': 'semi-supervised training framework (labelled + '
        'unlabelled multi-branch batches), not a model',
        'fast_rcnn': 'needs precomputed proposals (a dataset field) as '
        'input',
    },
}

# families that need a larger input than the check's (h, w): the pairs and
# TDFusion's task view are enlarged to it (upstream limits, e.g. a fixed
# pooling window)
MIN_INPUT = {
    # LR-ASPP pools its 1/8 features with a fixed 49x49 window
    ('mmseg', 'mobilenet_v3'): (480, 640),
    # DINO selects its 900 queries among the encoder's tokens: a 96x128
    # image has 256 over its 4 levels
    ('mmdet', 'dino'): (240, 320),
    ('mmdet', 'v3det'): (240, 320),
    # DDOD's head starts with a deformable conv (mmcv DeformConv2dPack) on
    # every level, P7 (stride 128) included; DeformConv2dPack.forward does
    # not pad an input smaller than its 3x3 kernel as DeformConv2d.forward
    # does (mmcv/ops/deform_conv.py:410 vs :107), and mmcv's kernel rejects
    # it ('input image is smaller than kernel'): P7 needs 3 rows, i.e. a
    # padded height of 9 x 32
    ('mmdet', 'ddod'): (288, 384),
}

# families whose BN statistics the check lets train (norm_eval=False, as a
# user training them from scratch writes): with norm_eval=True (frozen
# statistics, meant to come with pretrained weights) and random weights,
# BN is the identity (mean 0, variance 1) and stays so, and these diverge
# in their first step (measured: task loss ~7e5, NaN after one SGD step at
# lr 1e-5); the other families pass with the configs' norm_eval (the
# TaskAdapter warns about it, docs/task_models.md)
TRAIN_NORM = {
    # weight-standardised convs (ConvAWS, SAC: every filter has unit
    # variance, so each conv scales activations by ~sqrt(fan-in)) that rely
    # on BN to renormalise: layer4 activations ~5e5 with identity BN
    ('mmdet', 'detectors'):
    'weight-standardised convs (ConvAWS/SAC) need BN statistics',
    # deep backbones whose config freezes BN for pretrained weights: from
    # random weights with identity BN the features reach ~5e8 (HRNet
    # stage4, Res2Net-101 layer4) and the losses ~1e7; Adam (TDFusion,
    # BDLFusion) takes a bounded step, SeAFusion's SGD task step does not
    # and its next forward overflows (inf, then NaN losses)
    ('mmdet', 'hrnet'):
    'identity BN from random weights: features ~5e8, SGD step overflows',
    ('mmdet', 'res2net'):
    'identity BN from random weights: features ~3e8, SGD step overflows',
}

# representative config where the generic choice (below) is not the
# smallest plain model of the family
REPRESENTATIVE = {
    # the RPN-only config misses the num_classes its head requires (mmdet
    # 3.3); the detector built on Cascade RPN
    ('mmdet', 'cascade_rpn'):
    'cascade-rpn_faster-rcnn_r50-caffe_fpn_1x_coco.py',
}

# size hints: the smaller the rank, the sooner a config is picked
_SMALL = ('r18', 'mobilenet', 'b0', '-t_', '_t_', 'tiny', '-s_', '_s_',
          'small', 'w18', 'hr18', 'r50', 'x50', 's50', 'r101', '-b_', 'base')
# a detection family's config that needs more than boxes (or proposals)
_NOT_BOX_ONLY = ('mask', 'htc', 'scnet', 'instance', 'panoptic', 'rpn',
                 'fast-rcnn')
_DATASET_RANK = {
    'mmseg': ('cityscapes', 'ade20k', 'voc12', 'pascal', 'coco', 'context'),
    'mmdet': ('_coco', 'voc', 'cityscapes', 'lvis'),
}


def zoo_dir(package: str) -> str:
    return osp.join(
        osp.dirname(importlib.import_module(package).__file__), '.mim',
        'configs')


def _rank(package: str, family: str, name: str) -> tuple:
    low = name.lower()
    size = next((i for i, t in enumerate(_SMALL) if t in low), len(_SMALL))
    data = next((i for i, t in enumerate(_DATASET_RANK[package]) if t in low),
                len(_DATASET_RANK[package]))
    # a detection family: box-only config first (its instance-segmentation
    # variants need masks)
    masks = sum(
        t in low and t not in family.replace('_', '-') for t in _NOT_BOX_ONLY)
    extras = sum(
        t in low for t in ('ms-', 'mstrain', 'lsj', '3x', '2x', '20e', 'crop',
                           'giou', 'dcn', 'gn'))
    return (masks, data, size, extras, len(name), name)


def families(package: str):
    """``[(family, representative config or None, skip reason)]``."""
    root = zoo_dir(package)
    out = []
    for family in sorted(os.listdir(root)):
        folder = osp.join(root, family)
        if not osp.isdir(folder):
            continue
        if family in SKIP[package]:
            out.append((family, None, SKIP[package][family]))
            continue
        configs = sorted(
            f for f in os.listdir(folder)
            if f.endswith('.py') and not f.startswith('_'))
        if not configs:
            out.append((family, None, 'no config in the folder'))
            continue
        chosen = REPRESENTATIVE.get((package, family)) or min(
            configs, key=lambda n: _rank(package, family, n))
        out.append((family, f'{family}/{chosen}', None))
    return out


# ------------------------------------------------------------------ data
def _batches(kind: str,
             n_pairs: int,
             batch_size: int,
             with_masks: bool,
             with_seg: bool,
             size=(320, 240)):
    root = DATA_ROOT
    if not osp.isdir(root):
        raise FileNotFoundError(
            f'{root}: the MSRS demo pairs the check trains on are missing '
            '(they come with a clone of the repository)')
    prefix = dict(ir='train/ir', vis='train/vi')
    labels = []
    if kind == 'seg' or with_seg:
        prefix['seg'] = 'train/Segmentation_labels'
        labels.append(dict(type='mmseg.LoadAnnotations'))
    if kind == 'det':
        prefix['det'] = 'train/Detection_labels'
        labels.append(
            dict(
                type='mmdet.LoadAnnotations', with_bbox=True, with_label=True))
        if with_masks:
            labels.append(dict(type='MasksFromBoxes'))
    ds = DATASETS.build(
        dict(
            type='MSRSDataset',
            data_root=root,
            data_prefix=prefix,
            pipeline=[
                dict(type='LoadPairedImageFromFile'),
                *labels,
                dict(type='mmdet.Resize', scale=size, keep_ratio=True),
                # boxes under a pixel after the resize (as the training
                # pipelines of msrs_det.py / m3fd.py)
                *([
                    dict(
                        type='mmdet.FilterAnnotations',
                        min_gt_bbox_wh=(1, 1),
                        keep_empty=False)
                ] if kind == 'det' else []),
                dict(type='PackFusionInputs')
            ]))
    items = [ds[i % len(ds)] for i in range(n_pairs * batch_size)]
    return [
        pseudo_collate(items[i * batch_size:(i + 1) * batch_size])
        for i in range(n_pairs)
    ]


# ------------------------------------------------------------------ build
def num_classes_overrides(model_cfg, n: int, train_norm: bool = False) -> dict:
    """Overrides setting every head's ``num_classes`` to ``n`` (by config:
    what a user writes to put a zoo model on MSRS); with ``train_norm``,
    also every ``norm_eval=True`` to ``False`` (what a user writes to train
    a model with frozen BN statistics from scratch, :data:`TRAIN_NORM`)."""

    old = set()

    def collect(cfg):
        if isinstance(cfg, (list, tuple)):
            for c in cfg:
                collect(c)
        elif isinstance(cfg, dict):
            for key, value in cfg.items():
                if key in ('num_classes', 'num_things_classes') and \
                        isinstance(value, int):
                    old.add(value)
                collect(value)
            # a panoptic head's classes are its things and stuff (MaskFormer:
            # class_weight=[1.0] * 133 + [0.1] for 80 + 53)
            things, stuff = (cfg.get('num_things_classes'),
                             cfg.get('num_stuff_classes'))
            if isinstance(things, int) and isinstance(stuff, int):
                old.add(things + stuff)

    collect(model_cfg)

    def walk(cfg):
        if isinstance(cfg, (list, tuple)):
            items = [walk(c) for c in cfg]
            return items if any(i is not None for i in items) else None
        if not isinstance(cfg, dict):
            return None
        out = {}
        for key, value in cfg.items():
            if key == 'num_classes' and isinstance(value, int):
                out[key] = n
            elif key == 'num_things_classes':
                out[key] = n
            elif key == 'num_stuff_classes':
                out[key] = 0
            elif key == 'norm_eval' and value is True and train_norm:
                out[key] = False
            elif key == 'class_weight' and isinstance(value, list):
                # per-class weights (PIDNet's), or classes + background
                # (Mask2Former's)
                if len(value) in old:
                    out[key] = [1.0] * n
                elif len(value) - 1 in old:
                    out[key] = [1.0] * n + [value[-1]]
            elif key in ('train_cfg', 'test_cfg', 'data_preprocessor'):
                continue
            else:
                sub = walk(value)
                if sub:
                    out[key] = sub
        return out or None

    overrides = walk(model_cfg) or {}
    backbone = model_cfg.get('backbone')
    if train_norm and isinstance(backbone, dict) and \
            'norm_eval' not in backbone and \
            default_arg(backbone.get('type'), 'norm_eval') is True:
        # frozen by the class's default, not by the config (mmdet HRNet)
        overrides.setdefault('backbone', {})['norm_eval'] = False
    # lists (cascade heads) must be given whole to be merged
    return _lists_whole(model_cfg, overrides)


def default_arg(type_name, arg: str):
    """The default of ``arg`` in the constructor of the registered model
    ``type_name`` (``'mmdet.HRNet'``, or ``'HRNet'`` in mmseg/mmdet), or
    None."""
    from mmdet.registry import MODELS as DET
    from mmseg.registry import MODELS as SEG
    if not isinstance(type_name, str):
        return None
    scope, _, name = type_name.rpartition('.')
    registries = {'mmdet': [DET], 'mmseg': [SEG]}.get(scope, [DET, SEG])
    for registry in registries:
        cls = registry.get(name)
        if cls is not None:
            param = inspect.signature(cls).parameters.get(arg)
            return None if param is None else param.default
    return None


def _lists_whole(base, overrides):
    if isinstance(overrides, list):
        merged = []
        for b, o in zip(base, overrides):
            if o is None:
                merged.append(b)
            else:
                merged.append(
                    _merge(b, _lists_whole(b, o)).to_dict(
                    ) if isinstance(b, dict) else o)
        return merged
    if isinstance(overrides, dict):
        return {
            k:
            _lists_whole(base.get(k), v)
            if isinstance(v, (dict, list)) and base is not None else v
            for k, v in overrides.items()
        }
    return overrides


def _kind(package: str) -> str:
    return 'seg' if package == 'mmseg' else 'det'


def build(strategy: str,
          package: str,
          config: str,
          fusion_nets: str = 'narrow',
          task_input_size=None,
          min_input=None):
    """The strategy's shipped config with the task swapped for
    ``package::config`` (num_classes set to MSRS's), its model and optim
    wrapper. ``min_input`` ``(h, w)``: the least task view (TDFusion's
    ``task_input_size``, given or the config's, is enlarged to it)."""

    cfg = Config.fromfile(strategy_config(strategy))
    task_model = _get_config(f'{package}::{config}', False).model
    n = 9 if package == 'mmseg' else 3
    cfg.merge_from_dict(
        dict(
            model=dict(
                task=dict(
                    _delete_=True,
                    type='TaskAdapter',
                    cfg_path=f'{package}::{config}',
                    model=num_classes_overrides(task_model, n, (
                        package, config.split('/')[0]) in TRAIN_NORM),
                    input_format='rgb'))))
    if fusion_nets == 'narrow':
        cfg.merge_from_dict(dict(model=NARROW[strategy]))
    if cfg.model.get('task_input_size'):
        size = tuple(task_input_size or cfg.model.task_input_size)
        if min_input:
            size = (max(size[0], min_input[0]), max(size[1], min_input[1]))
        cfg.model.task_input_size = size
    init_default_scope('mmfusion')
    with _nan_for_uninitialised_memory():
        model = MODELS.build(cfg.model)
        # as the Runner does before training: the configs' own
        # initialisation (mmdet/mmseg init_cfg, init_weights)
        model.init_weights()
    task = model.task.model
    never = [
        n for n, p in task.named_parameters() if not torch.isfinite(p).all()
    ]
    if never:
        owners = sorted({
            f'{type(m).__name__} of {type(m).__module__}'
            for n in never
            for m in [task.get_submodule(n.rpartition('.')[0])]
        })
        raise RuntimeError(
            f'{len(never)} parameter(s) of the task are left uninitialised '
            'by its own initialisation (allocated empty, filled by neither '
            'its constructor nor init_weights; only a pretrained checkpoint '
            f'sets them): {", ".join(never[:3])}' +
            (', ...' if len(never) > 3 else '') + f' ({"; ".join(owners)})')
    ow_cfg = dict(cfg.optim_wrapper)
    ow = OPTIM_WRAPPER_CONSTRUCTORS.build(
        dict(type=ow_cfg.pop('constructor'), optim_wrapper_cfg=ow_cfg))(
            model)
    return model, ow


@contextlib.contextmanager
def _nan_for_uninitialised_memory():
    """Memory allocated empty (``torch.empty``, ``torch.Tensor(*shape)``)
    is NaN while building: a parameter that no initialisation fills is then
    NaN, deterministically, instead of whatever memory it was given (in one
    process: e.g. the NaNs a previous family freed, or finite garbage)."""
    enabled = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    fill = torch.utils.deterministic.fill_uninitialized_memory
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.utils.deterministic.fill_uninitialized_memory = True
    try:
        yield
    finally:
        torch.utils.deterministic.fill_uninitialized_memory = fill
        torch.use_deterministic_algorithms(enabled, warn_only=warn_only)


def one_step_each(strategy: str, model, ow, b1, b2) -> dict:
    """One training step of every phase of ``strategy``, then a
    prediction; returns the finite losses per phase."""
    hub = MessageHub.get_current_instance()
    hub.update_info('iter', 0)
    hub.update_info('epoch', 0)  # as PhasedTrainLoop records it
    out = {}
    for phase in STRATEGIES[strategy][1]:
        batches = spec_of(model.PHASES, phase).batches
        data = [b1, b2][:batches] if batches > 1 else b1
        model.train()
        # position 1 of cycle 1: SeAFusion's round 1 (beta = 1), not the
        # first step of a round
        with phase_scope(phase, iter=1, cycle=1):
            log = model.train_step(data, ow)
        losses = {k: float(v) for k, v in log.items() if 'loss' in k}
        if not losses or not all(
                map(lambda v: v == v and abs(v) != float('inf'),
                    losses.values())):
            raise FloatingPointError(f'{phase}: non-finite losses {losses}')
        if float(log.get('nonfinite_skipped', 0)):
            raise FloatingPointError(f'{phase}: an update was skipped')
        out[phase] = losses
    model.eval()
    with torch.no_grad():
        results = model.val_step(b1)
    keys = ('pred_sem_seg', ) if type(
        model.task.model).__module__.startswith('mmseg') else (
            'pred_instances', 'pred_panoptic_seg')
    written = [k for k in keys if k in results[0]]
    if not written:
        raise RuntimeError(f'predict: the task wrote no {" or ".join(keys)}')
    out['predict'] = written
    return out


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout()


def check(strategy: str,
          package: str,
          family: str,
          config: str,
          timeout: int = 900,
          fusion_nets: str = 'narrow',
          pair_size=(320, 240),
          task_input_size=None) -> dict:
    """Build ``strategy`` with ``package::config`` (of ``family``) as its
    task, take one step of every phase and one prediction; the result row:
    ``status`` ('pass' or 'fail'), ``seconds``, the ``losses`` per phase or
    the ``cause`` of the failure (the error and where it was raised), the
    targets the task ``needs``, and what the check changed for the family
    (``input``, ``overrides``). Each family runs in its own message hub,
    stopped after ``timeout`` seconds (``SIGALRM``: the main thread)."""
    start = time.perf_counter()
    row = dict(family=family, package=package, config=config)
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(timeout)
    least = MIN_INPUT.get((package, family))
    if least:
        w, h = pair_size
        pair_size = (max(w, least[1]), max(h, least[0]))
        row['input'] = f'enlarged to at least {least[0]}x{least[1]}'
    if (package, family) in TRAIN_NORM:
        row['overrides'] = 'norm_eval=False: ' + TRAIN_NORM[(package, family)]
    try:
        # each family its own message hub (the runtime info the strategies
        # read and write: phase, iterations, the non-finite guard's counts)
        MessageHub.get_instance(
            f'check_task_zoo:{strategy}:{package}:{family}:{time.time()}')
        torch.manual_seed(0)
        logger = MMLogger.get_current_instance()
        level = logger.level
        logger.setLevel('WARNING')
        try:
            model, ow = build(strategy, package, config, fusion_nets,
                              task_input_size, least)
        finally:
            logger.setLevel(level)
        needs = model.task.needed_targets
        row['needs'] = sorted(needs)
        # TDFusion doubles each batch (modality swap): one pair per batch
        bs = 1 if getattr(model, 'swap_modalities', False) else 2
        task = model.task.model
        with_seg = type(task).__name__ in _PANOPTIC or getattr(
            getattr(task, 'roi_head', None), 'with_semantic', False)
        b1, b2 = _batches(
            _kind(package), 2, bs, 'gt_instances.masks' in needs, with_seg,
            tuple(pair_size))
        row['losses'] = one_step_each(strategy, model, ow, b1, b2)
        row['status'] = 'pass'
    except _Timeout:
        row['status'] = 'fail'
        row['cause'] = f'timeout ({timeout} s)'
    except Exception as e:  # noqa: BLE001 - the table reports every failure
        row['status'] = 'fail'
        row['cause'] = _cause(e)
    finally:
        signal.alarm(0)
    row['seconds'] = round(time.perf_counter() - start, 1)
    gc.collect()
    return row


_PANOPTIC = ('PanopticFPN', 'MaskFormer', 'Mask2Former')


def _cause(e: Exception) -> str:
    """The error and where it was raised (the last frame outside torch),
    so a cause reads as upstream (mmseg/mmdet/mmcv) or mmfusion."""
    frames = traceback.extract_tb(e.__traceback__)
    where = ''
    for frame in reversed(frames):
        path = frame.filename
        if '/torch/' in path:
            continue
        m = re.search(r'(mmfusion|mmseg|mmdet|mmcv|mmengine)/.*', path)
        where = f'{m.group(0) if m else osp.basename(path)}:{frame.lineno}'
        break
    msg = ' '.join(str(e).split())
    if len(msg) > 300:
        msg = msg[:300] + '...'
    return f'{type(e).__name__}: {msg} [{where}]'


def results_table(rows) -> str:
    lines = [
        '| family | config | result | s | cause |', '|---|---|---|---|---|'
    ]
    for r in rows:
        cause = r.get('cause', '') or ''
        lines.append(f"| {r['family']} | {r.get('config') or ''} | "
                     f"{r['status']} | {r.get('seconds', '')} | "
                     f"{cause.replace('|', '/')} |")
    return '\n'.join(lines)


def combined_table(paths) -> str:
    """One markdown table of several strategies' JSON results: a row per
    family, a column per strategy (result and seconds), the causes."""
    results = {}
    for path in paths:
        with open(path) as f:
            data = json.load(f)
        results[data['strategy']] = {
            (r['package'], r['family']): r
            for r in data['rows']
        }
    names = [n for n in STRATEGIES if n in results]
    keys = []
    for name in names:
        keys += [k for k in results[name] if k not in keys]
    header = '| package | family | config | ' + ' | '.join(names) + \
        ' | cause of a failure; what the tool set |'
    lines = [header, '|' + '---|' * (len(names) + 4)]
    skipped = []
    for key in keys:
        rows = [results[n].get(key) for n in names]
        first = next(r for r in rows if r)
        if first['status'] == 'skip':
            skipped.append(f"{key[0]} `{key[1]}` ({first['cause']})")
            continue
        cells, causes = [], []
        for name, r in zip(names, rows):
            if r is None:
                cells.append('not run')
                continue
            cells.append(f"{r['status']} {r['seconds']:.0f} s")
            if r['status'] == 'fail':
                cause = r['cause'].replace('|', '/')
                if cause not in causes:
                    causes.append(cause)
        for note in ('overrides', 'input'):
            # the same for every strategy (set per family)
            if first.get(note) and first[note] not in causes:
                causes.append(first[note])
        lines.append(f"| {key[0]} | {key[1]} | `{first['config']}` | " +
                     ' | '.join(cells) + f" | {'; '.join(causes)} |")
    counts = []
    for name in names:
        rows = list(results[name].values())
        c = {
            s: sum(r['status'] == s for r in rows)
            for s in ('pass', 'fail', 'skip')
        }
        secs = sum(r.get('seconds', 0) for r in rows if r['status'] != 'skip')
        counts.append(f"{name}: {c['pass']} pass, {c['fail']} fail "
                      f"({secs / 60:.0f} min)")
    return '\n'.join(lines) + '\n\n' + '; '.join(counts) + \
        '.\n\nSkipped: ' + ', '.join(skipped) + '.'


def select(names):
    """``[(package, family, config or None, skip reason)]`` of the family
    ``names``: ``'all'``, ``'seg'`` (mmseg), ``'det'`` (mmdet), folder names
    or ``'package:folder'``; an unknown name is a ``ValueError``."""
    rows = []
    for package in ('mmseg', 'mmdet'):
        for family, config, skip in families(package):
            want = ('all' in names or _kind(package) in names
                    or family in names or f'{package}:{family}' in names)
            if want:
                rows.append((package, family, config, skip))
    known = {f for _, f, _, _ in rows} | {f'{p}:{f}' for p, f, _, _ in rows}
    unknown = set(names) - known - {'all', 'seg', 'det'}
    if unknown:
        raise ValueError(f'unknown families: {sorted(unknown)}')
    return rows


def merge_rows(rows, kept):
    """``rows`` and, in their place, the rows of a results file not run
    again (yet): stopping a run never loses results."""
    new = {(r['package'], r['family']): r for r in rows}
    out = [new.pop((r['package'], r['family']), r) for r in kept]
    return out + list(new.values())


def write_results(path: str, strategy: str, rows, settings=None) -> None:
    """The results JSON (``strategy``, the run's ``settings``, ``rows``)
    that :func:`combined_table` reads and a run resumes from; written
    atomically."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(
            dict(strategy=strategy, settings=settings or {}, rows=rows),
            f,
            indent=1)
    os.replace(tmp, path)
