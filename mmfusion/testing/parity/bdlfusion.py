# Copyright (c) mmfusion contributors. All rights reserved.
"""BDLFusion: one training iteration of the official code (LiuZhu-CV/
BDLFusion, ``train.py`` with ``architect_average2.py``) and of mmfusion's
:class:`~mmfusion.models.BDLFusion`, on the same weights, batches and task
network, in float64.

One *iteration* is the body of ``train.py``'s loop at a ``GLOBAL_STEPS``
where the leader moves (``(GLOBAL_STEPS + 1) % 10 == 0``; default 999, the
last warm-up iteration, lr ``0.999 x 2e-4`` as for the rest of the first
30,000 iterations): ``architect.step`` (the fusion net's hypergradient step
through the discriminator and through the task, on the train batch ``b``
and the upper batch ``v``), then one step of the discriminator and one of
the task on ``b``. mmfusion runs ``train_step`` in its ``'upper'`` phase on
``[b, v]`` (``upper_step`` then ``lower_step``).

What each side gets
-------------------
- **Weights**: :func:`~mmfusion.testing.parity.common.seeded_init_` on
  mmfusion's ``DRDBFusionNet``, ``PixelDiscriminator`` and task; the
  official ``enhance_net`` (``Fusion_Network_IJ``) and ``discriminator``
  receive them through the project's converter key mapping
  (``bdlfusion_convert``, the mapping of
  ``tools/model_converters/bdlfusion2mmfusion.py``), in place of the warm
  start ``model_ijcai_fusion_add_1.pth`` that ``train.py`` loads.
- **Task network**: the official task is an FCOS detector
  (``model/fcos_fusion.py``, ``denoise_net``). For the comparison one small
  mmseg segmentor (:func:`shared_task_config`: mmfusion's tiny DeepLabV3+,
  dropout off) with seeded weights is plugged into ``denoise_net``'s place
  on the official side (:class:`OfficialTaskInterface`: it takes
  ``[fused_seg, batch_boxes, batch_classes]`` as ``FCOSDetector`` does and
  returns a list of losses whose last entry is the total; the data samples
  with the segmentation labels travel in the ``batch_boxes`` slot) and is
  mmfusion's task (through its :class:`TaskAdapter`, ``input_format`` of
  the published config). Both see the image the official
  ``forward_object`` builds (the raw fused Y with the VIS chroma, clamped,
  min-max stretched over the batch) through the same input conversion
  (x255, BGR) and normalisation.
- **Batches**: four 64x96 windows (:data:`WINDOWS`) of one pair of the
  bundled ``data/msrs_demo/train`` (default ``00004N``), read by mmfusion's
  pipeline and ``FusionDataPreprocessor`` (IR and VIS RGB cast to float64,
  Y/CbCr recomputed from them in float64 by mmfusion's ``rgb_to_ycbcr``):
  two windows form ``b``, two ``v``. The official loop receives the same IR
  and VIS RGB tensors, the segmentation labels in place of boxes and
  classes, and as ``mask`` the saliency map mmfusion's
  ``SaliencyTargetLoss`` computes (``saliency_weight_map``; ``train.py``
  reads the authors' precomputed masks).
- **float64**: every network is moved to float64; mmseg's
  ``SegDataPreProcessor`` cast to float32 is avoided on both sides alike
  (:class:`Float64SegPreProcessor`, the same normalisation). While the
  official code runs, the default dtype is float64 (its constants, e.g. the
  colour matrices built by ``torch.tensor``, follow it) and ``.cuda()``
  (of tensors and modules) returns its object unchanged: the code runs as
  written on the CPU.

The official loop is replayed
-----------------------------
``train.py`` parses its command line and trains when imported; its
classes and functions (``Network_IJCAI`` with ``_fusion_loss``,
``_fusion_loss_upper``, ``_detection_loss``, ``Fusionloss_grad2``,
``Architect.step`` and everything it calls) are imported from the user's
checkout and called as written. The statements of ``train.py`` that have
no function are replayed here: the set-up (``Fusionloss_grad2().cuda()``,
``Network_IJCAI(...)``, ``Architect1(model, args)`` with the defaults of its
second argument parser, the two ``torch.optim.SGD`` of lines 142-143,
``model.train()``) and the loop body of lines 160-215 (the warm-up lr of
both optimisers, ``architect.step(..., param['lr'], unrolled=True,
lr_new=param['lr'])``, the discriminator's and the task's ``zero_grad``,
loss, ``backward`` and ``step``). The constants (``LR_INIT``,
``WARMPUP_STEPS``, the SGD settings, the parser defaults) are read from the
checkout's ``train.py``. The upper-level batch is given (``train.py`` draws
it from its validation loader).

The official step runs from a fresh state: the followers' ``.grad`` buffers
are empty when ``architect.step`` reads them (in a real run they still
hold the previous iteration's lower-level gradients; see
docs/bdlfusion.md). The quantities' ``upper.hypergrad_*`` are the two
branch results ``architect_average2.py`` computes (``_backward_step_unrolled``
and ``_backward_step_unrolled2``, recorded as they return; the second adds
into the first's tensors, so the task's is the difference), and
``upper.agg_weights`` the least-squares weights of the applied update on the
two, on both sides.
"""
import argparse
import ast
import contextlib
import copy
import os.path as osp
from pathlib import Path
from typing import Dict, Optional, Sequence

import torch
from torch import Tensor

from mmfusion.structures.phases import phase_scope
from . import common

#: the quantities both steps return, in report order
QUANTITIES = ('upper.hypergrad_disc', 'upper.hypergrad_task', 'upper.update',
              'upper.agg_weights', 'upper.fusion_net', 'upper.fusion_delta',
              'lower.loss_disc', 'lower.grad_disc', 'lower.discriminator',
              'lower.disc_delta', 'lower.disc_momentum', 'lower.loss_task',
              'lower.grad_task', 'lower.task', 'lower.task_delta',
              'lower.task_momentum')

DEFAULT_STEM = '00004N'
#: ``(top, left, h, w)`` windows of the pair: two for the train batch ``b``,
#: two for the upper batch ``v`` (multiples of 32: no padding anywhere)
WINDOWS = ((160, 192, 64, 96), (288, 352, 64, 96), (96, 448, 64, 96), (352, 64,
                                                                       64, 96))
#: ``train.py``'s loop counter at the replayed iteration
GLOBAL_STEPS = 999
CONFIG = 'configs/bdlfusion/bdlfusion_drdb_deeplabv3plus_msrs.py'
NUM_CLASSES = 9
OFFICIAL_MODULES = ('model.fcos_fusion', 'model.config', 'model.loss',
                    'architect_average2')
#: what the replayed lines of ``train.py`` use, and the published values
TRAIN_CONSTANTS = dict(
    LR_INIT=2e-4,
    WARMPUP_STEPS=1000,
    dis_momentum=0.9,
    dis_weight_decay=1e-4,
    det_momentum=0.9,
    det_weight_decay=1e-4,
    momentum=0.9,
    weight_decay=3e-4,
    arch_learning_rate=1e-4,
    arch_weight_decay=1e-3)

repo_root = common.repo_root


@contextlib.contextmanager
def cpu_float64():
    """While official GPU code runs on the CPU in float64: the default
    dtype is float64 (constants made by ``torch.tensor``/``torch.Tensor``
    follow it), ``Tensor.cuda()`` and ``Module.cuda()`` return their object
    unchanged, and the global random state is restored afterwards. Undone on
    exit."""
    dtype = torch.get_default_dtype()
    tensor_cuda, module_cuda = torch.Tensor.cuda, torch.nn.Module.cuda

    def same(self, *args, **kwargs):
        return self

    with torch.random.fork_rng(devices=[]):
        torch.set_default_dtype(torch.float64)
        torch.Tensor.cuda = same
        torch.nn.Module.cuda = same
        try:
            yield
        finally:
            torch.Tensor.cuda = tensor_cuda
            torch.nn.Module.cuda = module_cuda
            torch.set_default_dtype(dtype)


@contextlib.contextmanager
def official_imports(official_dir: str, names: Sequence[str]):
    """:func:`~mmfusion.testing.parity.common.official_modules`, and on
    exit also the modules those imported from the checkout under other
    top-level names (e.g. BDLFusion's ``pytorch_ssim`` package) are removed
    from ``sys.modules``."""
    import sys
    before = set(sys.modules)
    root = osp.abspath(osp.expanduser(official_dir))
    try:
        with common.official_modules(official_dir, names) as mods:
            yield mods
    finally:
        for name in set(sys.modules) - before:
            path = getattr(sys.modules[name], '__file__', None) or ''
            if osp.abspath(path).startswith(root + osp.sep):
                del sys.modules[name]


def official_lr(global_steps: int = GLOBAL_STEPS,
                lr_init: float = TRAIN_CONSTANTS['LR_INIT'],
                warmup: int = TRAIN_CONSTANTS['WARMPUP_STEPS']) -> float:
    """The followers' lr after ``train.py``'s warm-up lines at
    ``GLOBAL_STEPS`` (before the 30,000 milestone)."""
    if global_steps < warmup:
        return float(global_steps / warmup * lr_init)
    return lr_init


# ------------------------------------------------------------ task network
def shared_task_config(num_classes: int = NUM_CLASSES) -> dict:
    """The one task network of both loops: mmfusion's tiny DeepLabV3+ on
    the RGB image (ImageNet mean/std as the published config), no dropout
    (nothing random may be drawn), no padding."""
    from mmfusion.testing import tiny_segmentor
    cfg = tiny_segmentor(num_classes=num_classes, in_channels=3)
    cfg['data_preprocessor'].pop('size_divisor')
    cfg['decode_head'].update(dropout_ratio=0.0)
    return cfg


#: the float64 segmentation preprocessor (shared with the other methods)
Float64SegPreProcessor = common.Float64SegPreProcessor
prepare_task = common.prepare_task


class OfficialTaskInterface(torch.nn.Module):
    """The shared task in ``denoise_net``'s place: ``Network_IJCAI`` calls
    ``denoise_net([fused_seg, batch_boxes, batch_calsses])`` and takes
    ``losses[-1]``. ``fused_seg`` (RGB in [0, 1]) goes through the shared
    adapter's input conversion (x255, BGR) and preprocessor; the data
    samples (segmentation labels) come in the ``batch_boxes`` slot; returns
    ``[total loss]`` (the segmentor's loss terms summed as mmfusion's
    ``parse_losses`` sums them)."""

    def __init__(self, adapter: torch.nn.Module):
        super().__init__()
        self.adapter = adapter

    def forward(self, inputs):
        img, samples = inputs[0], inputs[1]
        model = self.adapter.model
        data = model.data_preprocessor(
            dict(
                inputs=list(img.flip(1) * 255.),
                data_samples=copy.deepcopy(samples)), True)
        total, _ = model.parse_losses(model(**data, mode='loss'))
        return [total]


# ------------------------------------------------------------ the case
def make_case(seed: int = 0,
              pair: Optional[str] = None,
              data_root: Optional[str] = None,
              global_steps: int = GLOBAL_STEPS,
              windows: Sequence[Sequence[int]] = WINDOWS,
              preset: Optional[str] = None) -> dict:
    """The settings of one comparison: ``pair`` the MSRS stem (default
    :data:`DEFAULT_STEM`), ``global_steps`` the replayed iteration (one at
    which the leader moves), ``windows`` the four ``(top, left, h, w)``;
    ``preset``: only ``'small'`` (these defaults) exists."""
    if preset not in (None, 'small'):
        raise ValueError(f"BDLFusion's comparison has one preset, 'small'; "
                         f'got {preset!r}')
    if (global_steps + 1) % 10 != 0:
        raise ValueError(f'global_steps={global_steps}: the leader moves '
                         'only where (GLOBAL_STEPS + 1) % 10 == 0')
    if isinstance(pair, (list, tuple)):
        if len(pair) != 1:
            raise ValueError('BDLFusion takes one pair (its four windows '
                             f'form both batches), got {list(pair)}')
        pair = pair[0]
    windows = tuple(tuple(int(v) for v in w) for w in windows)
    if len(windows) != 4:
        raise ValueError(f'need 4 windows (b: 2, v: 2), got {len(windows)}')
    return dict(
        seed=int(seed),
        stem=pair or DEFAULT_STEM,
        data_root=str(data_root or repo_root() / 'data/msrs_demo/train'),
        global_steps=int(global_steps),
        windows=windows)


def load_items(case: dict) -> list:
    """The windows ``case['windows']`` of the case's pair, each an item of
    mmfusion's MSRS data set (pipeline: ``LoadPairedImageFromFile``,
    ``mmseg.LoadAnnotations``, ``PackFusionInputs``) cut to the window."""
    from mmengine.registry import init_default_scope
    init_default_scope('mmfusion')
    root = case['data_root']
    ds = common.msrs_dataset(root)
    index = {
        Path(ds.get_data_info(i)['ir_path']).stem: i
        for i in range(len(ds))
    }
    if case['stem'] not in index:
        raise KeyError(f'{root}: no pair {case["stem"]!r} (has '
                       f'{sorted(index)[:6]} ...)')
    full = ds[index[case['stem']]]
    return [
        common.cut_item(copy.deepcopy(full), window, case['stem'])
        for window in case['windows']
    ]


def load_batches(case: dict) -> list:
    """``[b, v]``: two mmfusion batches (collated), each of two windows of
    the case's pair."""
    from mmengine.dataset import pseudo_collate
    items = load_items(case)
    return [pseudo_collate(items[:2]), pseudo_collate(items[2:])]


class Float64FusionInputs(torch.nn.Module):
    """mmfusion's ``FusionDataPreprocessor`` with its IR and VIS RGB cast to
    float64 and Y/CbCr recomputed from them in float64 (mmfusion's
    ``rgb_to_ycbcr``, as the preprocessor computes them)."""

    def __init__(self, inner: torch.nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, data: dict, training: bool = False) -> dict:
        from mmfusion.utils import rgb_to_ycbcr
        out = self.inner(data, training)
        ir = out['inputs']['ir'].to(torch.float64)
        vis = out['inputs']['vis'].to(torch.float64)
        vis_y, vis_cbcr = rgb_to_ycbcr(vis)
        out['inputs'] = dict(ir=ir, vis=vis, vis_y=vis_y, vis_cbcr=vis_cbcr)
        return out

    def cast_data(self, data):
        return self.inner.cast_data(data)


# ------------------------------------------------------------ mmfusion
def build_mmfusion(case: dict, model_options: Optional[dict] = None):
    """mmfusion's BDLFusion of the published config (:data:`CONFIG`) with
    the shared task, seeded weights, in float64, and its optimiser wrappers
    (the config's; the followers' lr set to the official lr at the case's
    ``GLOBAL_STEPS``). ``model_options`` are merged into the model config
    last (e.g. ``dict(adv_weights=dict(task=0.02))``: a deliberate
    deviation, to see the comparison catch it)."""
    cfg = common.load_config(CONFIG)
    # the shared network instead of the config's task, as the config feeds
    # it (its input_format)
    cfg.model.task = dict(
        type='TaskAdapter',
        model=shared_task_config(),
        input_format=cfg.model.task.get('input_format', 'rgb'))
    model, ow = common.build_float64_model(
        cfg,
        case['seed'],
        nets=('fusion_net', 'discriminator', 'task'),
        inputs_wrapper=Float64FusionInputs,
        prepare_task=prepare_task,
        model_options=model_options)
    lr = official_lr(case['global_steps'])
    for name in ('discriminator', 'task'):
        for group in ow[name].param_groups:
            group['lr'] = lr
    return model, ow


def _named_flat(vec: Tensor, net: torch.nn.Module) -> Dict[str, Tensor]:
    """A flat vector over ``net``'s trainable parameters, by name."""
    out, offset = {}, 0
    for n, p in net.named_parameters():
        if not p.requires_grad:
            continue
        out[n] = vec[offset:offset + p.numel()].view_as(p)
        offset += p.numel()
    if offset != vec.numel():
        raise ValueError(f'vector of {vec.numel()} values for '
                         f'{offset} parameters')
    return out


def mmfusion_step(seed: int = 0,
                  pair: Optional[str] = None,
                  model_options: Optional[dict] = None,
                  **options) -> Dict[str, Tensor]:
    """mmfusion's ``'upper'`` iteration (see the module docstring); the
    quantities of :data:`QUANTITIES` as float64 tensors. ``options``: see
    :func:`make_case`."""
    from mmengine.logging import MessageHub

    from mmfusion.models.utils.misc import unwrap
    case = make_case(seed, pair, **options)
    batches = load_batches(case)
    model, ow = build_mmfusion(case, model_options)
    nets = dict(
        fusion_net=unwrap(model.fusion_net),
        discriminator=unwrap(model.discriminator),
        task=unwrap(model.task))
    before = {k: common.params(net) for k, net in nets.items()}
    grads = {k: [] for k in nets}
    hooks = [
        common.grad_recorder(ow[k].optimizer, net, grads[k])
        for k, net in nets.items()
    ]
    hyper = {}
    hypergradient = model.hypergradient

    def recording_hypergradient(follower, train, upper):
        h, c = hypergradient(follower, train, upper)
        hyper[follower] = h.detach().clone()
        return h, c

    # an attribute of this instance only: records each follower's h
    model.hypergradient = recording_hypergradient
    hub = MessageHub.get_current_instance()
    hub.update_info('iter', case['global_steps'] - 1)
    try:
        with phase_scope('upper'):
            log = model.train_step(batches, ow)
    finally:
        for h in hooks:
            h.remove()
        del model.hypergradient
    fusion = nets['fusion_net']
    return _quantities(
        hypergrad_disc=_named_flat(hyper['discriminator'], fusion),
        hypergrad_task=_named_flat(hyper['task'], fusion),
        update=grads['fusion_net'][0],
        before=before,
        after={
            k: common.params(net)
            for k, net in nets.items()
        },
        loss_disc=log['disc.loss_fus'],
        grad_disc=grads['discriminator'][0],
        disc_momentum=common.optimizer_state(ow['discriminator'].optimizer,
                                             nets['discriminator'],
                                             'momentum_buffer'),
        loss_task=log['task.loss_task'],
        grad_task=grads['task'][0],
        task_momentum=common.optimizer_state(ow['task'].optimizer,
                                             nets['task'], 'momentum_buffer'))


def _quantities(**q) -> Dict[str, Tensor]:
    vec, scalar = common.named_vector, common.scalar

    h_d, h_t = vec(q['hypergrad_disc']), vec(q['hypergrad_task'])
    update = vec(q['update'])
    # the applied update as a combination of the two hypergradients
    weights = torch.linalg.lstsq(torch.stack([h_d, h_t], 1),
                                 update[:, None]).solution.reshape(-1)
    before, after = q['before'], q['after']

    def delta(k):
        return vec(after[k]) - vec(before[k])

    return {
        'upper.hypergrad_disc': h_d,
        'upper.hypergrad_task': h_t,
        'upper.update': update,
        'upper.agg_weights': weights,
        'upper.fusion_net': vec(after['fusion_net']),
        'upper.fusion_delta': delta('fusion_net'),
        'lower.loss_disc': scalar(q['loss_disc']),
        'lower.grad_disc': vec(q['grad_disc']),
        'lower.discriminator': vec(after['discriminator']),
        'lower.disc_delta': delta('discriminator'),
        'lower.disc_momentum': vec(q['disc_momentum']),
        'lower.loss_task': scalar(q['loss_task']),
        'lower.grad_task': vec(q['grad_task']),
        'lower.task': vec(after['task']),
        'lower.task_delta': delta('task'),
        'lower.task_momentum': vec(q['task_momentum']),
    }


# ------------------------------------------------------------ official
def train_constants(official_dir: str) -> dict:
    """:data:`TRAIN_CONSTANTS` as the checkout's ``train.py`` sets them:
    ``LR_INIT``/``WARMPUP_STEPS`` (literal assignments), the ``momentum``/
    ``weight_decay`` of ``optimizer_dis``/``optimizer_detection``
    (``dis_*``/``det_*``) and the defaults of the ``--momentum``,
    ``--weight_decay``, ``--arch_learning_rate``, ``--arch_weight_decay``
    arguments. The published values where absent."""
    path = osp.join(official_dir, 'train.py')
    out = dict(TRAIN_CONSTANTS)
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: not found; is {official_dir} a '
                                'checkout of LiuZhu-CV/BDLFusion?')
    with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read(), path)

    def literal(node):
        try:
            return ast.literal_eval(node)
        except ValueError:
            return None

    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and \
                isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name in ('LR_INIT', 'WARMPUP_STEPS'):
                value = literal(node.value)
                if value is not None:
                    out[name] = value
            elif name in ('optimizer_dis', 'optimizer_detection') and \
                    isinstance(node.value, ast.Call):
                prefix = 'dis' if name == 'optimizer_dis' else 'det'
                for kw in node.value.keywords:
                    if kw.arg in ('momentum', 'weight_decay'):
                        value = literal(kw.value)
                        if value is not None:
                            out[f'{prefix}_{kw.arg}'] = value
        elif isinstance(node, ast.Call) and \
                isinstance(node.func, ast.Attribute) and \
                node.func.attr == 'add_argument' and node.args and \
                isinstance(node.args[0], ast.Constant):
            name = str(node.args[0].value).lstrip('-')
            if name in ('momentum', 'weight_decay', 'arch_learning_rate',
                        'arch_weight_decay'):
                for kw in node.keywords:
                    if kw.arg == 'default':
                        value = literal(kw.value)
                        if value is not None:
                            out[name] = value
    return out


def official_step(official_dir: str,
                  seed: int = 0,
                  pair: Optional[str] = None,
                  **options) -> Dict[str, Tensor]:
    """The official loop body at the case's ``GLOBAL_STEPS`` (see the module
    docstring), from the checkout ``official_dir``; the quantities of
    :data:`QUANTITIES`."""
    from mmfusion.models.utils.ckpt_convert import bdlfusion_convert
    from mmfusion.models.utils.misc import unwrap
    from mmfusion.models.utils.saliency import saliency_weight_map
    case = make_case(seed, pair, **options)
    const = train_constants(official_dir)
    batches = load_batches(case)
    model, _ = build_mmfusion(case)
    with torch.no_grad():
        data = [
            model.data_preprocessor(copy.deepcopy(b), True) for b in batches
        ]
    mode = model.fusion_loss[0].saliency_mode
    tensors = []
    for d in data:
        x = d['inputs']
        mask = saliency_weight_map(x['ir'], x['vis_y'], mode)
        # (IR, VIS RGB, saliency mask, "boxes" = the samples, "classes")
        tensors.append((x['ir'], x['vis'], mask, d['data_samples'], None))
    fusion_src = unwrap(model.fusion_net)
    disc_src = unwrap(model.discriminator)
    task = copy.deepcopy(unwrap(model.task))  # the shared task network

    def fusion_convert(s):
        return bdlfusion_convert({
            f'enhance_net.{k}': v
            for k, v in s.items()
        })['fusion_net']

    def disc_convert(s):
        return bdlfusion_convert({
            f'discriminator.{k}': v
            for k, v in s.items()
        })['discriminator']

    with official_imports(official_dir, OFFICIAL_MODULES) as mods, \
            cpu_float64():
        fcos = mods['model.fcos_fusion']
        # train.py: set-up (lines 40, 117-119, 139-145)
        config = mods['model.config'].DefaultConfig()
        fusion_loss = mods['model.loss'].Fusionloss_grad2().cuda()
        net = fcos.Network_IJCAI(
            f_loss=fusion_loss, mode='training', config=config)
        net = net.cuda()
        # the seeded weights through the converter (instead of the warm
        # start model_ijcai_fusion_add_1.pth), the shared task in FCOS's
        # place
        common.load_converted(net.enhance_net, fusion_src, fusion_convert)
        common.load_converted(net.discriminator, disc_src, disc_convert)
        net.denoise_net = OfficialTaskInterface(task)
        net.double()
        args = argparse.Namespace(
            **{
                k: const[k]
                for k in ('momentum', 'weight_decay', 'arch_learning_rate',
                          'arch_weight_decay')
            })
        architect = mods['architect_average2'].Architect(net, args)
        LR_INIT = const['LR_INIT']
        optimizer_dis = torch.optim.SGD(
            net.discriminator.parameters(),
            lr=LR_INIT,
            momentum=const['dis_momentum'],
            weight_decay=const['dis_weight_decay'])
        optimizer_detection = torch.optim.SGD(
            net.denoise_net.parameters(),
            lr=LR_INIT,
            momentum=const['det_momentum'],
            weight_decay=const['det_weight_decay'])
        net.train()
        rec = _replay(net, architect, optimizer_dis, optimizer_detection,
                      const, case['global_steps'], tensors)

    fusion_names = common.key_map(fusion_convert,
                                  dict(net.enhance_net.named_parameters()))
    disc_names = common.key_map(disc_convert,
                                dict(net.discriminator.named_parameters()))

    def by_name(named, names):
        return {names[k]: v for k, v in named.items()}

    def task_names(named):
        return common.strip_prefix(named, 'adapter.')

    order = [n for n, _ in net.enhance_net.named_parameters()]
    return _quantities(
        hypergrad_disc=by_name(dict(zip(order, rec['h_disc'])), fusion_names),
        hypergrad_task=by_name(dict(zip(order, rec['h_task'])), fusion_names),
        update=by_name(rec['update'], fusion_names),
        before=dict(
            fusion_net=by_name(rec['before']['fusion_net'], fusion_names),
            discriminator=by_name(rec['before']['discriminator'], disc_names),
            task=task_names(rec['before']['task'])),
        after=dict(
            fusion_net=by_name(rec['after']['fusion_net'], fusion_names),
            discriminator=by_name(rec['after']['discriminator'], disc_names),
            task=task_names(rec['after']['task'])),
        loss_disc=rec['loss_disc'],
        grad_disc=by_name(rec['grad_disc'], disc_names),
        disc_momentum=by_name(rec['disc_momentum'], disc_names),
        loss_task=rec['loss_task'],
        grad_task=task_names(rec['grad_task']),
        task_momentum=task_names(rec['task_momentum']))


def _replay(model, architect, optimizer_dis, optimizer_detection, const,
            GLOBAL_STEPS, tensors) -> dict:
    """``train.py``'s loop body (lines 160-215) for one iteration at
    ``GLOBAL_STEPS`` of epoch 0, statement by statement; ``rec`` records
    the quantities between the statements."""
    nets = dict(
        fusion_net=model.enhance_net,
        discriminator=model.discriminator,
        task=model.denoise_net)
    rec = dict(before={k: common.params(v) for k, v in nets.items()})
    store = dict(update=[], disc=[], task=[])
    hooks = [
        common.grad_recorder(architect.optimizer, model.enhance_net,
                             store['update']),
        common.grad_recorder(optimizer_dis, model.discriminator,
                             store['disc']),
        common.grad_recorder(optimizer_detection, model.denoise_net,
                             store['task'])
    ]
    branch = []
    unrolled1 = architect._backward_step_unrolled
    unrolled2 = architect._backward_step_unrolled2

    def recording1(*args, **kwargs):
        out = unrolled1(*args, **kwargs)
        branch.append((out, [g.detach().clone() for g in out]))
        return out

    def recording2(*args, **kwargs):
        out = unrolled2(*args, **kwargs)
        branch.append((out, [g.detach().clone() for g in out]))
        return out

    # attributes of this Architect instance only: record the two branches'
    # results as they return (the official methods run as written)
    architect._backward_step_unrolled = recording1
    architect._backward_step_unrolled2 = recording2
    WARMPUP_STEPS, LR_INIT = const['WARMPUP_STEPS'], const['LR_INIT']
    epoch = 0
    param = optimizer_detection.param_groups[-1]
    batch_imgs_ir, batch_imgs_vis, mask, batch_boxes, batch_classes = \
        tensors[0]
    batch_imgs_ir_old, batch_imgs_vis_old, mask_old, batch_boxes_old, \
        batch_classes_old = tensors[1]
    try:
        if GLOBAL_STEPS < WARMPUP_STEPS:
            lr = float(GLOBAL_STEPS / WARMPUP_STEPS * LR_INIT)
            for param in optimizer_dis.param_groups:
                param['lr'] = lr
        if GLOBAL_STEPS == 30001:
            lr = LR_INIT * 0.1
            for param in optimizer_dis.param_groups:
                param['lr'] = lr
        if GLOBAL_STEPS == 40000:
            lr = LR_INIT * 0.01
            for param in optimizer_dis.param_groups:
                param['lr'] = lr
        if GLOBAL_STEPS < WARMPUP_STEPS:
            lr = float(GLOBAL_STEPS / WARMPUP_STEPS * LR_INIT)
            for param in optimizer_detection.param_groups:
                param['lr'] = lr
        if GLOBAL_STEPS == 30001:
            lr = LR_INIT * 0.1
            for param in optimizer_detection.param_groups:
                param['lr'] = lr
        if GLOBAL_STEPS == 40000:
            lr = LR_INIT * 0.01
            for param in optimizer_detection.param_groups:
                param['lr'] = lr
        if (GLOBAL_STEPS + 1) % 10 == 0 and epoch <= 40:
            architect.step(
                batch_imgs_ir,
                batch_imgs_vis,
                mask,
                batch_boxes,
                batch_classes,
                batch_imgs_ir_old,
                batch_imgs_vis_old,
                mask_old,
                batch_boxes_old,
                batch_classes_old,
                param['lr'],
                unrolled=True,
                lr_new=param['lr'])
        optimizer_dis.zero_grad()
        loss = model._fusion_loss(batch_imgs_ir, batch_imgs_vis, mask)
        rec['loss_disc'] = loss.detach().clone()
        loss.mean().backward()
        optimizer_dis.step()
        optimizer_detection.zero_grad()
        loss = model._detection_loss(batch_imgs_ir, batch_imgs_vis,
                                     batch_boxes, batch_classes)
        rec['loss_task'] = loss.detach().clone()
        loss.mean().backward()
        optimizer_detection.step()
    finally:
        for h in hooks:
            h.remove()
        del architect._backward_step_unrolled
        del architect._backward_step_unrolled2
    if len(branch) != 2 or len(store['update']) != 1:
        raise RuntimeError('the replayed iteration did not run the leader\'s '
                           f'step (GLOBAL_STEPS={GLOBAL_STEPS})')
    (out1, h_disc), (out2, total) = branch
    # the second branch accumulates into the first one's tensors (the
    # fusion net's .grad) when they are the same objects
    aliased = all(a is b for a, b in zip(out1, out2))
    rec['h_disc'] = h_disc
    rec['h_task'] = [t - d for t, d in zip(total, h_disc)] if aliased \
        else total
    rec['update'] = store['update'][0]
    rec['grad_disc'] = store['disc'][0]
    rec['grad_task'] = store['task'][0]
    rec['disc_momentum'] = common.optimizer_state(optimizer_dis,
                                                  model.discriminator,
                                                  'momentum_buffer')
    rec['task_momentum'] = common.optimizer_state(optimizer_detection,
                                                  model.denoise_net,
                                                  'momentum_buffer')
    rec['after'] = {k: common.params(v) for k, v in nets.items()}
    return rec
