# Copyright (c) mmfusion contributors. All rights reserved.
"""SeAFusion: one step of the segmenter and one step of the fusion net, of
the official code (Linfeng-Tang/SeAFusion, ``train.py``) and of mmfusion's
:class:`~mmfusion.models.SeAFusion`, on the same weights, batch and task
network, in float64.

The *step* is, in this order (the order of the released rounds: the fusion
net of round r trains against the segmenter of round r - 1):

1. ``train_seg``'s loop body for its first iteration of round 0 (``it = 0``,
   lr ``1e-5``, heads x10): the segmenter learns on the images the frozen
   fusion net produces (``run_fusion``'s ``fusion_image``);
2. ``train_fusion(num=2)``'s loop body for its first iteration (round 2,
   epoch 0, Adam lr ``1e-3 x 0.75^-1``): the fusion net learns on the
   content loss plus ``num`` x the frozen segmenter's semantic loss.

mmfusion runs ``train_step`` in its ``'task'`` phase (round 0) and then in
its ``'fusion'`` phase (round 2, not at the phase's first iteration: its
per-round re-initialisation is not part of the compared step).

What each side gets
-------------------
- **Weights**: :func:`~mmfusion.testing.parity.common.seeded_init_` on
  mmfusion's ``SeAFusionNet`` and task; the official ``FusionNet`` receives
  them through the project's converter key mapping (``seafusion_convert``,
  the mapping of ``tools/model_converters/seafusion2mmfusion.py``; its
  unused decoder BatchNorms keep their initialisation).
- **Task network**: the official segmenter is a BiSeNet (``model_TII.py``).
  One small mmseg segmentor (:func:`shared_task_config`: mmfusion's tiny
  DeepLabV3+ with an FCN auxiliary head, dropout off, with the published
  config's preprocessing, OHEM sampler and loss weights) with seeded weights
  is mmfusion's task (through its :class:`TaskAdapter`) and, on the
  official side, takes BiSeNet's place (:class:`OfficialSegmenterInterface`:
  ``net(x) -> (out, mid)``, the main and auxiliary logits at the input size,
  computed by the same adapter's input conversion and preprocessor, and
  ``get_params()`` by ``BiSeNet.get_params``'s rule: conv/linear weights
  decay, biases and BatchNorm parameters do not, the heads' parameters get
  ``lr_mul``). The official ``OhemCELoss`` is applied to those logits; its
  ``n_min`` is ``N x H x W / 16`` of the batch (``train.py``'s
  ``n_img_per_gpu * 640 * 480 // 16`` and ``8 * 640 * 480 // 8`` are that
  for the published batch of 16 images of 640x480).
- **Batch**: two 64x96 windows (:data:`WINDOWS`) of one pair of the bundled
  ``data/msrs_demo/train`` (default ``00004N``), read by mmfusion's pipeline
  and ``FusionDataPreprocessor`` (IR and VIS RGB cast to float64, Y/CbCr
  recomputed from them in float64). The official loop receives the same IR,
  VIS RGB and label tensors (``train.py`` reads them through its data sets).
  The segmenter's images are the fused RGB in memory on both sides
  (``run_fusion`` writes them as min-max-normalised uint8 PNGs which
  ``train_seg`` reads back with its own augmentation: a documented
  difference of the recipe, see docs/seafusion.md); mmfusion's
  ``task_colour_jitter`` is off.
- **float64**: every network is moved to float64; mmseg's
  ``SegDataPreProcessor`` cast to float32 is avoided on both sides alike.
  While the official code runs, the default dtype is float64 and ``.cuda()``
  returns its object unchanged (:func:`~mmfusion.testing.parity.bdlfusion.
  cpu_float64`); ``Fusionloss``'s float32 Sobel kernels (integers) are moved
  to float64 with the module.

The official loop is replayed
-----------------------------
``train.py`` trains when run; importing it needs its ``logger`` module,
which the repository does not ship, and its data sets and BiSeNet, which the
step does not use: ``logger``, ``cityscapes``, ``TaskFusion_dataset`` and
``model_TII`` are stand-ins while it is imported. Its ``RGB2YCrCb``,
``YCrCb2RGB`` and the classes ``FusionNet``, ``Fusionloss``, ``OhemCELoss``
and ``Optimizer`` are the checkout's, called as written. The statements of
``train_seg`` (set-up lines 83-133, loop body 151-160), of ``run_fusion``
(its fused image, 357-370) and of ``train_fusion`` (set-up 199-241, the
epoch's lr 248-252, loop body 253-289) are replayed here for one
iteration; the constants are the published ones
(:data:`TRAIN_CONSTANTS`).
"""
import copy
import types
import warnings
from typing import Dict, Optional, Sequence

import torch
from torch import Tensor

from mmfusion.structures.phases import set_phase
from . import common
from .bdlfusion import (Float64FusionInputs, cpu_float64, load_items,
                        official_imports, prepare_task, repo_root)

#: the quantities both steps return, in report order
QUANTITIES = ('task.loss', 'task.loss_main', 'task.grad', 'task.lr',
              'task.weight_decay', 'task.momentum', 'task.params',
              'task.delta', 'task.bn_stats', 'fusion.loss_int',
              'fusion.loss_content', 'fusion.loss_semantic',
              'fusion.loss_total', 'fusion.grad', 'fusion.exp_avg',
              'fusion.exp_avg_sq', 'fusion.params', 'fusion.delta')

DEFAULT_STEM = '00004N'
#: ``(top, left, h, w)`` windows of the pair forming the batch
WINDOWS = ((160, 192, 64, 96), (288, 352, 64, 96))
#: the round of the fusion step (semantic weight ``num``) and of the
#: segmenter's step
FUSION_ROUND = 2
TASK_ROUND = 0
CONFIG = 'configs/seafusion/seafusion_joint_msrs.py'
NUM_CLASSES = 9
OFFICIAL_MODULES = ('FusionNet', 'loss', 'optimizer', 'train')
#: modules ``train.py`` imports that the step does not use (stand-ins while
#: it is imported; ``logger`` is not in the repository)
STUBBED = dict(
    logger=('setup_logger', ),
    cityscapes=('CityScapes', ),
    TaskFusion_dataset=('Fusion_dataset', ),
    model_TII=('BiSeNet', ))
#: the constants of the replayed lines (train.py, published)
TRAIN_CONSTANTS = dict(
    seg_lr_start=1e-2,
    seg_momentum=0.9,
    seg_weight_decay=5e-4,
    max_iter=80000,
    power=0.9,
    warmup_steps=1000,
    warmup_start_lr=1e-5,
    iter_offset=20000,
    score_thres=0.7,
    ignore_idx=255,
    fusion_lr_start=0.001,
    lr_decay=0.75)


# ------------------------------------------------------------ task network
def shared_task_config(crop_hw: Sequence[int] = (64, 96),
                       num_classes: int = NUM_CLASSES) -> dict:
    """The one segmenter of both loops: mmfusion's tiny DeepLabV3+ with an
    FCN auxiliary head on the 1/8 features, no dropout, no padding, with
    the published SeAFusion segmenter's preprocessing (mean/std, channel
    order), OHEM sampler (``min_kept`` scaled to ``crop_hw``: the published
    value is 480 x 640 / 16 per image) and both heads' losses and
    weights."""
    from mmengine.config import Config

    from mmfusion.testing import tiny_segmentor
    published = Config.fromfile(str(repo_root() / CONFIG)).model.task.model
    cfg = tiny_segmentor(num_classes=num_classes, in_channels=3)
    dp = cfg['data_preprocessor']
    dp.pop('size_divisor')
    for key in ('mean', 'std', 'bgr_to_rgb'):
        dp[key] = copy.deepcopy(published.data_preprocessor[key])

    def ohem(head):
        sampler = copy.deepcopy(published[head].sampler)
        sampler['min_kept'] = crop_hw[0] * crop_hw[1] // 16
        return sampler

    cfg['decode_head'].update(
        dropout_ratio=0.0,
        sampler=ohem('decode_head'),
        loss_decode=copy.deepcopy(published.decode_head.loss_decode))
    norm = cfg['decode_head']['norm_cfg']
    cfg['auxiliary_head'] = dict(
        type='FCNHead',
        in_channels=32,
        in_index=2,
        channels=16,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.0,
        num_classes=num_classes,
        norm_cfg=norm,
        align_corners=False,
        sampler=ohem('auxiliary_head'),
        loss_decode=copy.deepcopy(published.auxiliary_head.loss_decode))
    return cfg


class OfficialSegmenterInterface(torch.nn.Module):
    """The shared segmenter in BiSeNet's place: ``net(x)`` with ``x`` the
    RGB batch in [0, 1] -> ``(out, mid)``, the decode and auxiliary heads'
    logits resized to the input (as the heads' own losses resize them),
    through the shared adapter's input conversion (x255, BGR) and
    preprocessor; :meth:`get_params` as ``BiSeNet.get_params``."""

    def __init__(self, adapter: torch.nn.Module):
        super().__init__()
        self.adapter = adapter

    def forward(self, x: Tensor):
        from mmseg.models.utils import resize
        model = self.adapter.model
        data = model.data_preprocessor(
            dict(inputs=list(x.flip(1) * 255.)), False)
        feats = model.extract_feat(data['inputs'])
        out = []
        for head in (model.decode_head, model.auxiliary_head):
            out.append(
                resize(
                    head.forward(feats),
                    size=x.shape[2:],
                    mode='bilinear',
                    align_corners=head.align_corners))
        return tuple(out)

    def get_params(self):
        """``(wd, nowd, lr_mul_wd, lr_mul_nowd)`` by ``model_TII.py``'s
        rule: in each child of the network, conv and linear weights decay,
        their biases and every BatchNorm parameter do not; the children
        that are output heads (BiSeNet's ``BiSeNetOutput``; here
        ``decode_head`` and ``auxiliary_head``) go to the ``lr_mul``
        groups."""
        from torch.nn.modules.batchnorm import _BatchNorm
        wd, nowd, lr_mul_wd, lr_mul_nowd = [], [], [], []
        for name, child in self.adapter.model.named_children():
            child_wd, child_nowd = [], []
            for module in child.modules():
                if isinstance(module, (torch.nn.Linear, torch.nn.Conv2d)):
                    child_wd.append(module.weight)
                    if module.bias is not None:
                        child_nowd.append(module.bias)
                elif isinstance(module, _BatchNorm):
                    child_nowd += list(module.parameters())
            if name in ('decode_head', 'auxiliary_head'):
                lr_mul_wd += child_wd
                lr_mul_nowd += child_nowd
            else:
                wd += child_wd
                nowd += child_nowd
        covered = {id(p) for p in wd + nowd + lr_mul_wd + lr_mul_nowd}
        left = [
            n for n, p in self.adapter.model.named_parameters()
            if id(p) not in covered
        ]
        if left:
            raise TypeError(f'get_params: no rule for {left[:4]}')
        return wd, nowd, lr_mul_wd, lr_mul_nowd


# ------------------------------------------------------------ the case
def make_case(seed: int = 0,
              pair: Optional[str] = None,
              data_root: Optional[str] = None,
              windows: Sequence[Sequence[int]] = WINDOWS,
              fusion_round: int = FUSION_ROUND,
              preset: Optional[str] = None) -> dict:
    """The settings of one comparison: ``pair`` the MSRS stem (default
    :data:`DEFAULT_STEM`), ``windows`` the batch's ``(top, left, h, w)``
    (one size), ``fusion_round`` the round (semantic weight) of the fusion
    step (>= 1: round 0 has no semantic loss); ``preset``: only
    ``'small'`` (these defaults) exists."""
    if preset not in (None, 'small'):
        raise ValueError(f"SeAFusion's comparison has one preset, 'small'; "
                         f'got {preset!r}')
    if isinstance(pair, (list, tuple)):
        if len(pair) != 1:
            raise ValueError('SeAFusion takes one pair (its windows form '
                             f'the batch), got {list(pair)}')
        pair = pair[0]
    windows = tuple(tuple(int(v) for v in w) for w in windows)
    if len({w[2:] for w in windows}) != 1:
        raise ValueError(f'the windows must have one size, got {windows}')
    if fusion_round < 1:
        raise ValueError('fusion_round must be >= 1 (round 0 trains '
                         'without the semantic loss)')
    return dict(
        seed=int(seed),
        stem=pair or DEFAULT_STEM,
        data_root=str(data_root or repo_root() / 'data/msrs_demo/train'),
        windows=windows,
        fusion_round=int(fusion_round))


def load_batch(case: dict):
    """The one mmfusion batch of ``case`` (its windows, collated)."""
    from mmengine.dataset import pseudo_collate
    return pseudo_collate(load_items(case))


# ------------------------------------------------------------ mmfusion
def build_mmfusion(case: dict, model_options: Optional[dict] = None):
    """mmfusion's SeAFusion of the published config (:data:`CONFIG`) with
    the shared segmenter, no colour jitter, seeded weights, in float64, and
    its optimiser wrappers (the config's). ``model_options`` are merged into
    the model config last (a deliberate deviation, to see the comparison
    catch it)."""
    cfg = common.load_config(CONFIG)
    h, w = case['windows'][0][2:]
    # the shared segmenter instead of the config's, as the config feeds it
    cfg.model.task = dict(
        type='TaskAdapter',
        model=shared_task_config((h, w)),
        input_format=cfg.model.task.get('input_format', 'rgb'))
    cfg.model.task_colour_jitter = None
    return common.build_float64_model(
        cfg,
        case['seed'],
        nets=('fusion_net', 'task'),
        inputs_wrapper=Float64FusionInputs,
        prepare_task=prepare_task,
        model_options=model_options)


def _hub(iter: int, phase: str, cycle: int, phase_iter: int) -> None:
    """mmengine's ``iter`` and the phase (through the phase API), as the
    training loop sets them."""
    from mmengine.logging import MessageHub
    MessageHub.get_current_instance().update_info('iter', iter)
    set_phase(phase, phase_iter, cycle)


def mmfusion_step(seed: int = 0,
                  pair: Optional[str] = None,
                  model_options: Optional[dict] = None,
                  **options) -> Dict[str, Tensor]:
    """mmfusion's task step (round 0) and fusion step (round
    ``fusion_round``), see the module docstring; the quantities of
    :data:`QUANTITIES` as float64 tensors. ``options``: see
    :func:`make_case`."""
    from mmfusion.models.utils.misc import unwrap
    case = make_case(seed, pair, **options)
    batch = load_batch(case)
    model, ow = build_mmfusion(case, model_options)
    fusion, task = unwrap(model.fusion_net), unwrap(model.task)
    grads = dict(fusion=[], task=[])
    hooks = [
        common.grad_recorder(ow['fusion_net'].optimizer, fusion,
                             grads['fusion']),
        common.grad_recorder(ow['task'].optimizer, task, grads['task'])
    ]
    rec = dict(
        task_before=common.params(task), fusion_before=common.params(fusion))
    try:
        _hub(iter=0, phase='task', cycle=TASK_ROUND, phase_iter=0)
        task_log = model.train_step(copy.deepcopy(batch), ow)
        rec.update(
            task_after=common.params(task),
            task_groups=common.param_groups(ow['task'].optimizer, task),
            task_momentum=common.optimizer_state(ow['task'].optimizer, task,
                                                 'momentum_buffer'),
            task_bn=common.bn_buffers(task))
        # not the phase's first iteration: no re-initialisation of the net
        _hub(iter=1, phase='fusion', cycle=case['fusion_round'], phase_iter=1)
        fusion_log = model.train_step(copy.deepcopy(batch), ow)
    finally:
        for h in hooks:
            h.remove()
    opt = ow['fusion_net'].optimizer
    return _quantities(
        task_loss=task_log['task.loss'],
        task_loss_main=task_log['task.decode.loss_ce'],
        task_grad=grads['task'][0],
        task_groups=rec['task_groups'],
        task_momentum=rec['task_momentum'],
        task_before=rec['task_before'],
        task_after=rec['task_after'],
        task_bn=rec['task_bn'],
        loss_int=fusion_log['fusion.loss_int'],
        loss_content=fusion_log['fusion.loss_int'] +
        fusion_log['fusion.loss_texture'],
        loss_semantic=fusion_log['fusion.sem_raw'],
        loss_total=fusion_log['fusion.loss'],
        fusion_grad=grads['fusion'][0],
        exp_avg=common.optimizer_state(opt, fusion, 'exp_avg'),
        exp_avg_sq=common.optimizer_state(opt, fusion, 'exp_avg_sq'),
        fusion_before=rec['fusion_before'],
        fusion_after=common.params(fusion))


def _quantities(**q) -> Dict[str, Tensor]:
    vec, scalar = common.named_vector, common.scalar

    return {
        'task.loss': scalar(q['task_loss']),
        'task.loss_main': scalar(q['task_loss_main']),
        'task.grad': vec(q['task_grad']),
        'task.lr': vec(q['task_groups']['lr']),
        'task.weight_decay': vec(q['task_groups']['weight_decay']),
        'task.momentum': vec(q['task_momentum']),
        'task.params': vec(q['task_after']),
        'task.delta': vec(q['task_after']) - vec(q['task_before']),
        'task.bn_stats': vec(q['task_bn']),
        'fusion.loss_int': scalar(q['loss_int']),
        'fusion.loss_content': scalar(q['loss_content']),
        'fusion.loss_semantic': scalar(q['loss_semantic']),
        'fusion.loss_total': scalar(q['loss_total']),
        'fusion.grad': vec(q['fusion_grad']),
        'fusion.exp_avg': vec(q['exp_avg']),
        'fusion.exp_avg_sq': vec(q['exp_avg_sq']),
        'fusion.params': vec(q['fusion_after']),
        'fusion.delta': vec(q['fusion_after']) - vec(q['fusion_before']),
    }


# ------------------------------------------------------------ official
class _StandIns:
    """Stand-in modules in ``sys.modules`` while ``train.py`` is imported
    (:data:`STUBBED`); whatever those names held before is put back."""

    def __init__(self, names: Dict[str, Sequence[str]]):
        self.names = names

    def __enter__(self):
        import sys
        self.saved = {n: sys.modules.get(n) for n in self.names}
        for name, attrs in self.names.items():
            mod = types.ModuleType(name)
            mod.__doc__ = 'stand-in of the parity check (not used)'
            for attr in attrs:
                setattr(mod, attr, _unused(f'{name}.{attr}'))
            sys.modules[name] = mod
        return self

    def __exit__(self, *exc):
        import sys
        for name, mod in self.saved.items():
            if mod is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = mod
        return False


def _unused(what: str):

    def call(*args, **kwargs):
        raise RuntimeError(f'{what} is a stand-in of the parity check')

    return call


def _fusion_key_map(official: torch.nn.Module) -> Dict[str, str]:
    """``{official key: mmfusion key}`` of the official ``FusionNet``'s
    state by ``seafusion_convert``; the keys it drops (the decoder's unused
    BatchNorms) are left out."""
    from mmfusion.models.utils.ckpt_convert import seafusion_convert
    state = official.state_dict()
    kept = {k: v for k, v in state.items() if seafusion_convert({k: v})}
    return common.key_map(seafusion_convert, kept)


def official_step(official_dir: str,
                  seed: int = 0,
                  pair: Optional[str] = None,
                  **options) -> Dict[str, Tensor]:
    """The official segmenter step and fusion step (see the module
    docstring), from the checkout ``official_dir``; the quantities of
    :data:`QUANTITIES`."""
    from mmfusion.models.utils.misc import unwrap
    case = make_case(seed, pair, **options)
    batch = load_batch(case)
    model, _ = build_mmfusion(case)
    with torch.no_grad():
        data = model.data_preprocessor(copy.deepcopy(batch), True)
    x = data['inputs']
    label = torch.stack([s.gt_sem_seg.data
                         for s in data['data_samples']]).long()
    tensors = (x['vis'], x['ir'], label)  # image_vis, image_ir, label
    ours = unwrap(model.fusion_net)
    task = copy.deepcopy(unwrap(model.task))  # the shared segmenter
    # (train.py silences all warnings when imported: the filters are put
    # back afterwards)
    with warnings.catch_warnings(), _StandIns(STUBBED), \
            official_imports(official_dir, OFFICIAL_MODULES) as mods, \
            cpu_float64():
        train = mods['train']
        fusionmodel = mods['FusionNet'].FusionNet(output=1)
        mapping = _fusion_key_map(fusionmodel)
        theirs = ours.state_dict()
        missing, unexpected = fusionmodel.load_state_dict(
            {
                k: theirs[v]
                for k, v in mapping.items()
            }, strict=False)
        if unexpected or any(k in mapping for k in missing):
            raise KeyError(f'FusionNet: {missing} {unexpected}')
        fusionmodel.double()
        net = OfficialSegmenterInterface(task)
        rec = _replay(train, mods['loss'], mods['optimizer'], fusionmodel, net,
                      tensors, case['fusion_round'])
    names = dict(mapping)

    def by_name(named):
        return {names[k]: v for k, v in named.items() if k in names}

    def task_names(named):
        return common.strip_prefix(named, 'adapter.')

    return _quantities(
        task_loss=rec['task_loss'],
        task_loss_main=rec['task_loss_main'],
        task_grad=task_names(rec['task_grad']),
        task_groups={
            k: task_names(v)
            for k, v in rec['task_groups'].items()
        },
        task_momentum=task_names(rec['task_momentum']),
        task_before=task_names(rec['task_before']),
        task_after=task_names(rec['task_after']),
        task_bn=task_names(rec['task_bn']),
        loss_int=rec['loss_in'],
        loss_content=rec['loss_fusion'],
        loss_semantic=rec['seg_loss'],
        loss_total=rec['loss_total'],
        fusion_grad=by_name(rec['fusion_grad']),
        exp_avg=by_name(rec['exp_avg']),
        exp_avg_sq=by_name(rec['exp_avg_sq']),
        fusion_before=by_name(rec['fusion_before']),
        fusion_after=by_name(rec['fusion_after']))


def _replay(train, loss_mod, optimizer_mod, fusionmodel, segnet, tensors,
            num) -> dict:
    """``train_seg(i=0)``'s and ``train_fusion(num)``'s statements for one
    iteration each (see the module docstring); ``rec`` records the
    quantities between them."""
    from torch.autograd import Variable
    c = TRAIN_CONSTANTS
    OhemCELoss, Fusionloss = loss_mod.OhemCELoss, loss_mod.Fusionloss
    image_vis, image_ir, label = tensors
    n, _, h, w = image_vis.shape
    rec = {}

    # ---- run_fusion (lines 357-370): the frozen fusion net's images
    fusionmodel.eval()
    with torch.no_grad():
        images_vis_ycrcb = train.RGB2YCrCb(image_vis)
        logits = fusionmodel(images_vis_ycrcb, image_ir)
        fusion_ycrcb = torch.cat(
            (logits, images_vis_ycrcb[:, 1:2, :, :],
             images_vis_ycrcb[:, 2:, :, :]),
            dim=1,
        )
        fusion_image = train.YCrCb2RGB(fusion_ycrcb)
        ones = torch.ones_like(fusion_image)
        zeros = torch.zeros_like(fusion_image)
        fusion_image = torch.where(fusion_image > ones, ones, fusion_image)
        fusion_image = torch.where(fusion_image < zeros, zeros, fusion_image)

    # ---- train_seg(i=0): set-up (lines 83-133)
    i = TASK_ROUND
    n_img_per_gpu = n
    cropsize = [w, h]  # published [640, 480]
    ignore_idx = c['ignore_idx']
    net = segnet  # BiSeNet(n_classes=n_classes), replaced
    net.cuda()
    net.train()
    score_thres = c['score_thres']
    n_min = n_img_per_gpu * cropsize[0] * cropsize[1] // 16
    criteria_p = OhemCELoss(
        thresh=score_thres, n_min=n_min, ignore_lb=ignore_idx)
    criteria_16 = OhemCELoss(
        thresh=score_thres, n_min=n_min, ignore_lb=ignore_idx)
    optim = optimizer_mod.Optimizer(
        model=net,
        lr0=c['seg_lr_start'],
        momentum=c['seg_momentum'],
        wd=c['seg_weight_decay'],
        warmup_steps=c['warmup_steps'],
        warmup_start_lr=c['warmup_start_lr'],
        max_iter=c['max_iter'],
        power=c['power'],
        it=i * c['iter_offset'],
    )
    task_grads = []
    hook = common.grad_recorder(optim.optim, net, task_grads)
    rec['task_before'] = common.params(net)
    # loop body (lines 151-160); im: the fused images
    im, lb = fusion_image, label
    lb = torch.squeeze(lb, 1)
    try:
        optim.zero_grad()
        out, mid = net(im)
        lossp = criteria_p(out, lb)
        loss2 = criteria_16(mid, lb)
        loss = lossp + 0.75 * loss2
        loss.backward()
        optim.step()
    finally:
        hook.remove()
    rec.update(
        task_loss=loss.detach(),
        task_loss_main=lossp.detach(),
        task_grad=task_grads[0],
        task_groups=common.param_groups(optim.optim, net),
        task_momentum=common.optimizer_state(optim.optim, net,
                                             'momentum_buffer'),
        task_after=common.params(net),
        task_bn=common.bn_buffers(net))

    # ---- train_fusion(num): set-up (lines 199-241)
    lr_start = c['fusion_lr_start']
    fusionmodel.cuda()
    fusionmodel.train()
    optimizer = torch.optim.Adam(fusionmodel.parameters(), lr=lr_start)
    segmodel = net  # the segmenter just trained (model_final.pth)
    segmodel.cuda()
    segmodel.eval()
    for p in segmodel.parameters():
        p.requires_grad = False
    score_thres = c['score_thres']
    ignore_idx = c['ignore_idx']
    n_min = n * w * h // 16  # published 8 * 640 * 480 // 8 for 16 images
    criteria_p = OhemCELoss(
        thresh=score_thres, n_min=n_min, ignore_lb=ignore_idx)
    criteria_16 = OhemCELoss(
        thresh=score_thres, n_min=n_min, ignore_lb=ignore_idx)
    criteria_fusion = Fusionloss()
    criteria_fusion.to(torch.float64)  # its float32 Sobel kernels
    # the first epoch's lr (lines 248-252)
    epo = 0
    lr_start = c['fusion_lr_start']
    lr_decay = c['lr_decay']
    lr_this_epo = lr_start * lr_decay**(epo - 1)
    for param_group in optimizer.param_groups:
        param_group['lr'] = lr_this_epo
    fusion_grads = []
    hook = common.grad_recorder(optimizer, fusionmodel, fusion_grads)
    rec['fusion_before'] = common.params(fusionmodel)
    try:
        # loop body (lines 253-289), first iteration
        fusionmodel.train()
        image_vis = Variable(image_vis).cuda()
        image_vis_ycrcb = train.RGB2YCrCb(image_vis)
        image_ir = Variable(image_ir).cuda()
        label = Variable(label).cuda()
        logits = fusionmodel(image_vis_ycrcb, image_ir)
        fusion_ycrcb = torch.cat(
            (logits, image_vis_ycrcb[:, 1:2, :, :], image_vis_ycrcb[:,
                                                                    2:, :, :]),
            dim=1,
        )
        fusion_image = train.YCrCb2RGB(fusion_ycrcb)
        ones = torch.ones_like(fusion_image)
        zeros = torch.zeros_like(fusion_image)
        fusion_image = torch.where(fusion_image > ones, ones, fusion_image)
        fusion_image = torch.where(fusion_image < zeros, zeros, fusion_image)
        lb = torch.squeeze(label, 1)
        optimizer.zero_grad()
        if num > 0:
            out, mid = segmodel(fusion_image)
            lossp = criteria_p(out, lb)
            loss2 = criteria_16(mid, lb)
            seg_loss = lossp + 0.1 * loss2
        loss_fusion, loss_in, loss_grad = criteria_fusion(
            image_vis_ycrcb, image_ir, label, logits, num)
        if num > 0:
            loss_total = loss_fusion + (num) * seg_loss
        else:
            loss_total = loss_fusion
        loss_total.backward()
        optimizer.step()
    finally:
        hook.remove()
    rec.update(
        loss_in=loss_in.detach(),
        loss_fusion=loss_fusion.detach(),
        seg_loss=seg_loss.detach(),
        loss_total=loss_total.detach(),
        fusion_grad=fusion_grads[0],
        exp_avg=common.optimizer_state(optimizer, fusionmodel, 'exp_avg'),
        exp_avg_sq=common.optimizer_state(optimizer, fusionmodel,
                                          'exp_avg_sq'),
        fusion_after=common.params(fusionmodel))
    return rec
