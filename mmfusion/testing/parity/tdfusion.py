# Copyright (c) mmfusion contributors. All rights reserved.
"""TDFusion: one training step of the official code (HaowenBai/TDFusion,
``train.py``) and of mmfusion's :class:`~mmfusion.models.TDFusion`, on the
same weights, batches, crop windows and task network, in float64.

One *step* is what ``train.py`` does first: one meta iteration (its loop
indices ``i = 0``, the inner half, and ``i = 1``, the outer half, on two
batches) and then one iteration of "Learning of F and T" (a third batch).
mmfusion runs the steps its ``train_step`` dispatches to in the ``'meta'``
and ``'fusion'`` phases, ``meta_step`` on the first two batches and
``fusion_task_step`` on the third, with the crop windows given.

What each side gets
-------------------
- **Weights**: :func:`~mmfusion.testing.parity.common.seeded_init_` on
  mmfusion's ``ReFusionNet``, ``TDFusionLossGenerator`` and task; the
  official ``ReFusion`` and ``LPN`` receive them through the project's
  converter key mapping (``tdfusion_convert``, the mapping of
  ``tools/model_converters/tdfusion2mmfusion.py``).
- **Task network**: one small mmseg segmentor (:func:`shared_task_config`,
  a DeepLabV3+ on the 1-channel fused Y, dropout off, ``align_corners=True``
  as the official ``CE_Loss`` upsamples) with the same seeded weights on
  both sides. mmfusion drives it through its :class:`TaskAdapter`; the
  official loop calls ``Task_model(data_Fuse)`` and gets its logits from
  :class:`OfficialTaskInterface` (the same adapter's input conversion and
  preprocessor, then the segmentor's ``'tensor'`` forward), then applies its
  own ``CE_Loss``. Its official SegFormer is not used (a documented
  difference of the recipe, not of the training step).
- **Batches**: MSRS pairs (default: three pairs of the bundled
  ``data/msrs_demo/train``), read by mmfusion's pipeline and
  ``FusionDataPreprocessor`` (values cast to float64). The official loop
  receives these tensors as ``data_IR_ori``, ``data_VIS_ori`` and the label
  as ``mask_t``; its ``Trainset_Seg`` (hard-coded Windows paths, grey
  rounded to integers) is not run. A preset may cut every pair to a region
  first (a smaller "data set image", for a fast test).
- **Crop windows**: one window per step, drawn from the seed
  (:func:`crop_windows`), given to mmfusion's ``meta_step`` /
  ``fusion_task_step`` (``windows=``) and forced into the official loop in
  place of ``h=int((H-256)*random.random())``,
  ``w=int((W-256)*random.random())``.
- **float64**: every network is moved to float64. Two casts to float32 are
  avoided on both sides alike: mmseg's ``SegDataPreProcessor`` (replaced by
  :class:`Float64SegPreProcessor`, the same normalisation) and the official
  ``Fusionloss_grad``'s float32 Sobel kernels (while the official step runs,
  the ``F`` its ``utils`` module sees casts a conv weight to the input's
  dtype; the kernels are integers, so exactly).

The official loop is replayed
-----------------------------
``train.py`` is a script (importing it trains); its functions and classes
(``utils.inner_update``, ``outer_update``, ``Fusionloss_int``,
``Fusionloss_grad``, ``CE_Loss``, ``nets.ReFusion.ReFusion``, ``LPN``) are
imported from the user's checkout and called; the statements of the loop
body that have no function are replayed here in the script's order, for
``Switch=1`` and a segmentation data set: the crops and resizes, the
``Switch`` concatenations, the ``zero_grad`` calls, the forwards, the loss
sums with ``coef_f_int``/``coef_f_grad``, ``backward(create_graph=True,
retain_graph=True)``, ``optimizer2.step()``, the task snapshot
(``torch.save``/``load_state_dict``, to a temporary folder) and, in the
fusion phase, ``Loss_model.eval()``, ``optimizer1.step()`` and the task
update. The constants (``lr``, ``coef_f_int``, ``coef_f_grad``, ``Switch``)
are read from the checkout's ``train.py``; ``.cuda()`` moves are dropped;
the task input size is the preset's (``resize_h, resize_w``: 240x320 for
MSRS in ``train.py``) and the crop size the preset's (256 in ``train.py``).
"""
import ast
import copy
import os.path as osp
import tempfile
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from mmfusion.structures.phases import current_phase, set_phase
from . import common

#: the quantities both steps return, in report order
QUANTITIES = ('meta.weights', 'meta.loss_int', 'meta.loss_grad',
              'meta.inner_grad', 'meta.task_loss', 'meta.task_grad',
              'meta.outer_loss', 'meta.hypergrad', 'meta.loss_generator',
              'meta.task_exp_avg', 'meta.task_exp_avg_sq', 'fusion.weights',
              'fusion.loss_int', 'fusion.loss_grad', 'fusion.grad',
              'fusion.fusion_net', 'fusion.fusion_exp_avg',
              'fusion.fusion_exp_avg_sq', 'fusion.task_loss',
              'fusion.task_grad', 'fusion.task', 'fusion.task_exp_avg',
              'fusion.task_exp_avg_sq')

#: mmfusion's ways to the hypergradient (``TDFusion.hypergrad`` and
#: ``recompute_generator``): ``'jvp+keep'`` is ``'jvp'`` without recomputing
#: the loss generator
HYPERGRAD_MODES = ('jvp', 'jvp+keep', 'double_backward', 'full_backward')

#: default pairs of ``data/msrs_demo/train``: meta inner, meta outer, fusion
DEFAULT_STEMS = ('00004N', '00085D', '00151D')

#: ``region``: ``(top, left, h, w)`` cut from every pair before anything
#: else (``None``: the whole pair); ``crop``: the fusion-loss window side;
#: ``task_size``: the task view ``(h, w)``. ``small``: the test's (seconds);
#: ``whole``: whole 480x640 MSRS pairs and labels with small views;
#: ``msrs``: the published sizes (train.py's 256 crops and 240x320 view)
PRESETS = dict(
    small=dict(region=(200, 240, 32, 48), crop=16, task_size=(16, 24)),
    whole=dict(region=None, crop=32, task_size=(48, 64)),
    msrs=dict(region=None, crop=256, task_size=(240, 320)))

CONFIG = 'configs/tdfusion/segformer_msrs.py'
NUM_CLASSES = 9

repo_root = common.repo_root


def shared_task_config(num_classes: int = NUM_CLASSES) -> dict:
    """The one task network of both loops: mmfusion's tiny DeepLabV3+ on the
    1-channel fused Y (normalised to [-1, 1] as the published config), no
    dropout (both loops must draw nothing random), ``align_corners=True``
    (the official ``CE_Loss`` upsamples the logits so), no padding.

    The stored reference figures (``tests/data/parity/tdfusion.json``)
    depend on it and on :func:`mmfusion.testing.tiny_segmentor`: a change
    of either needs the figures rewritten from the official step."""
    from mmfusion.testing import tiny_segmentor
    cfg = tiny_segmentor(num_classes=num_classes, in_channels=1)
    cfg['data_preprocessor'].update(mean=[127.5], std=[127.5])
    cfg['data_preprocessor'].pop('size_divisor')
    cfg['decode_head'].update(dropout_ratio=0.0, align_corners=True)
    return cfg


#: the float64 segmentation preprocessor (shared with the other methods)
Float64SegPreProcessor = common.Float64SegPreProcessor


def build_shared_task(seed: int = 0) -> torch.nn.Module:
    """The :class:`TaskAdapter` of :func:`shared_task_config`, seeded, in
    float64."""
    from mmfusion.registry import MODELS
    adapter = MODELS.build(
        dict(type='TaskAdapter', model=shared_task_config(), input_format='y'))
    common.prepare_task(adapter)
    common.seeded_init_(adapter, seed)
    return adapter.double()


class OfficialTaskInterface(torch.nn.Module):
    """``Task_model(x)`` as the official loop calls it: the fused Y
    ``(N, 1, h, w)`` in [0, 1] -> logits ``(N, C, h', w')``, through the
    shared adapter's own input conversion and preprocessor, then the
    segmentor's ``'tensor'`` forward."""

    def __init__(self, adapter: torch.nn.Module):
        super().__init__()
        self.adapter = adapter

    def forward(self, x: Tensor) -> Tensor:
        model = self.adapter.model
        data = model.data_preprocessor(
            dict(inputs=self.adapter.to_task_inputs(x)), False)
        return model(data['inputs'], mode='tensor')


class _Float64Inputs(torch.nn.Module):
    """A data preprocessor whose output tensors are cast to float64 (the
    values of mmfusion's ``FusionDataPreprocessor``, computed in float32)."""

    def __init__(self, inner: torch.nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, data: dict, training: bool = False) -> dict:
        out = self.inner(data, training)
        out['inputs'] = {
            k: v.to(torch.float64)
            for k, v in out['inputs'].items()
        }
        return out

    def cast_data(self, data):
        return self.inner.cast_data(data)


# ------------------------------------------------------------ the case
def make_case(seed: int = 0,
              pair: Optional[Sequence[str]] = None,
              preset: str = 'small',
              data_root: Optional[str] = None,
              **overrides) -> dict:
    """The settings of one comparison: ``pair`` names the MSRS stems of the
    meta step's inner and outer batch and of the fusion step (default
    :data:`DEFAULT_STEMS`; one or two stems are reused in turn), ``preset``
    one of :data:`PRESETS`, ``overrides`` its ``region``/``crop``/
    ``task_size``."""
    if preset not in PRESETS:
        raise ValueError(f'preset must be one of {list(PRESETS)}, got '
                         f'{preset!r}')
    case = dict(PRESETS[preset])
    unknown = set(overrides) - set(case)
    if unknown:
        raise TypeError(f'unknown options {sorted(unknown)}')
    case.update(overrides)
    stems = tuple(pair) if pair else DEFAULT_STEMS
    if isinstance(pair, str):
        stems = (pair, )
    stems = tuple(stems[i % len(stems)] for i in range(3))
    case.update(
        seed=int(seed),
        stems=stems,
        data_root=str(data_root or repo_root() / 'data/msrs_demo/train'),
        preset=preset)
    case['region'] = None if case['region'] is None else tuple(case['region'])
    case['task_size'] = tuple(case['task_size'])
    return case


def load_batches(case: dict) -> list:
    """The three mmfusion batches (collated, one pair each) of ``case``."""
    from mmengine.dataset import pseudo_collate
    root = case['data_root']
    ds = common.msrs_dataset(root)
    index = {ds.get_data_info(i)['img_id']: i for i in range(len(ds))}
    batches = []
    for stem in case['stems']:
        if stem not in index:
            raise KeyError(f'{root}: no pair {stem!r} (has '
                           f'{sorted(index)[:6]} ...)')
        item = ds[index[stem]]
        if case['region'] is not None:
            common.cut_item(item, case['region'], stem, what='region')
        batches.append(pseudo_collate([item]))
    return batches


# ------------------------------------------------------------ mmfusion
def build_mmfusion(case: dict,
                   hypergrad: str = 'jvp',
                   model_options: Optional[dict] = None):
    """mmfusion's TDFusion of the published config with the shared task,
    the case's crop and task sizes, seeded weights, in float64; and its
    optimiser wrappers (the config's). ``model_options`` are merged into
    the model config last (e.g. ``dict(inner_lr=-1e-4)``: a deliberate
    deviation, to see the comparison catch it)."""
    if hypergrad not in HYPERGRAD_MODES:
        raise ValueError(f'hypergrad must be one of {HYPERGRAD_MODES}, got '
                         f'{hypergrad!r}')
    cfg = common.load_config(CONFIG)
    m = cfg.model
    m.task = dict(
        type='TaskAdapter', model=shared_task_config(), input_format='y')
    m.fusion_crop_size = (case['crop'], case['crop'])
    m.task_input_size = case['task_size']
    m.hypergrad = hypergrad.split('+')[0]
    m.recompute_generator = 'auto' if hypergrad != 'jvp+keep' else False
    return common.build_float64_model(
        cfg,
        case['seed'],
        nets=('fusion_net', 'loss_generator', 'task'),
        inputs_wrapper=_Float64Inputs,
        prepare_task=common.prepare_task,
        model_options=model_options)


def _hub(iteration: int, phase: str):
    """Set the message hub's ``iter`` and the phase (as the training loop
    does); returns a function that puts the previous values back."""
    from mmengine.logging import MessageHub
    info = MessageHub.get_current_instance().runtime_info
    saved_iter = info.get('iter')
    saved_phase = current_phase()
    info['iter'] = iteration
    set_phase(phase)

    def restore():
        info.pop('iter', None)
        if saved_iter is not None:
            info['iter'] = saved_iter
        set_phase(*saved_phase)

    return restore


def crop_windows(case: dict, batches: list) -> Dict[str, Tuple[int, int]]:
    """``{'meta': (top, left), 'fusion': (top, left)}``: the crop windows of
    the meta step's inner pair and of the fusion step's pair, drawn from a
    generator seeded by the case's seed (uniform over the windows inside
    the pair), and given to both loops."""
    g = torch.Generator().manual_seed(int(case['seed']))
    out = {}
    for name, batch in (('meta', batches[0]), ('fusion', batches[2])):
        H, W = batch['inputs'][0].shape[-2:]
        c = case['crop']
        if c > min(H, W):
            raise ValueError(f'crop {c} larger than the {H}x{W} pair')
        out[name] = (int(torch.randint(0, H - c + 1, (1, ), generator=g)),
                     int(torch.randint(0, W - c + 1, (1, ), generator=g)))
    return out


def mmfusion_step(seed: int = 0,
                  pair: Optional[Sequence[str]] = None,
                  hypergrad: str = 'jvp',
                  model_options: Optional[dict] = None,
                  **options) -> Dict[str, Tensor]:
    """mmfusion's meta step and fusion step (see the module docstring); the
    quantities of :data:`QUANTITIES` as float64 tensors. ``hypergrad``: one
    of :data:`HYPERGRAD_MODES`; ``model_options``: see
    :func:`build_mmfusion`; ``options``: see :func:`make_case`."""
    from mmfusion.models.utils.misc import unwrap
    case = make_case(seed, pair, **options)
    batches = load_batches(case)
    model, ow = build_mmfusion(case, hypergrad, model_options)
    fusion = unwrap(model.fusion_net)
    generator = unwrap(model.loss_generator)
    task = unwrap(model.task)
    nets = dict(fusion_net=fusion, loss_generator=generator, task=task)

    weights = []
    hook = generator.register_forward_hook(
        lambda m, args, out: weights.append(out.detach().clone()))
    grads = {k: [] for k in nets}
    hooks = [hook]
    for key, net in nets.items():
        hooks.append(common.grad_recorder(ow[key].optimizer, net, grads[key]))
    fast = []
    virtual_step = model.virtual_step

    def recording_virtual_step(*args, **kwargs):
        out = virtual_step(*args, **kwargs)
        fast.append({k: v.detach().clone() for k, v in out[0].items()})
        return out

    # an attribute of this instance only: records the fast weights
    model.virtual_step = recording_virtual_step
    theta = {k: p.detach().clone() for k, p in fusion.named_parameters()}
    alpha = ow['fusion_net'].get_lr()['lr'][0]
    windows = crop_windows(case, batches)
    restore_hub = _hub(0, 'meta')
    try:
        meta_log = model.meta_step(
            batches[0], batches[1], ow, windows=[windows['meta']])
        n_weights = len(weights)
        out = dict(
            meta_weights=weights[0],
            meta_log=meta_log,
            meta_inner_grad={
                k: (theta[k] - v) / alpha
                for k, v in fast[0].items()
            },
            meta_task_grad=grads['task'][0],
            meta_hypergrad=grads['loss_generator'][0],
            meta_loss_generator=dict(generator.named_parameters()),
            meta_task_state=_adam_state(ow['task'].optimizer, task))
        out['meta_loss_generator'] = {
            k: v.detach().clone()
            for k, v in out['meta_loss_generator'].items()
        }
        _hub(1, 'fusion')
        fusion_log = model.fusion_task_step(
            batches[2], ow, windows=[windows['fusion']])
    finally:
        restore_hub()
        for h in hooks:
            h.remove()
        del model.virtual_step
    return _quantities(
        meta_weights=out['meta_weights'],
        meta_loss_int=meta_log['meta_inner.loss_int'],
        meta_loss_grad=meta_log['meta_inner.loss_grad'],
        meta_inner_grad=out['meta_inner_grad'],
        meta_task_loss=meta_log['task.loss'],
        meta_task_grad=out['meta_task_grad'],
        meta_outer_loss=meta_log['meta.loss'],
        meta_hypergrad=out['meta_hypergrad'],
        meta_loss_generator=out['meta_loss_generator'],
        meta_task_state=out['meta_task_state'],
        fusion_weights=weights[n_weights],
        fusion_loss_int=fusion_log['fusion.loss_int'],
        fusion_loss_grad=fusion_log['fusion.loss_grad'],
        fusion_grad=grads['fusion_net'][0],
        fusion_net=dict(fusion.named_parameters()),
        fusion_state=_adam_state(ow['fusion_net'].optimizer, fusion),
        fusion_task_loss=fusion_log['task.loss'],
        fusion_task_grad=grads['task'][1],
        fusion_task=_task_tensors(task),
        fusion_task_state=_adam_state(ow['task'].optimizer, task))


def _task_tensors(task: torch.nn.Module, prefix: str = '') -> dict:
    """Parameters and buffers (BN statistics) of the task by name."""
    out = {}
    for n, t in list(task.named_parameters()) + list(task.named_buffers()):
        if n.startswith(prefix):
            out[n[len(prefix):]] = t
    return out


def _adam_state(optimizer, net: torch.nn.Module, names=None) -> dict:
    """``{'exp_avg': {name: t}, 'exp_avg_sq': {...}}`` of ``net``'s
    parameters (``names``: ``{parameter name: our name}``)."""
    out = dict(exp_avg={}, exp_avg_sq={})
    for n, p in net.named_parameters():
        state = optimizer.state.get(p, {})
        name = n if names is None else names[n]
        for key in out:
            if key in state:
                out[key][name] = state[key].detach().clone()
    return out


def _quantities(**q) -> Dict[str, Tensor]:
    vec, scalar = common.named_vector, common.scalar

    return {
        'meta.weights': q['meta_weights'].to(torch.float64),
        'meta.loss_int': scalar(q['meta_loss_int']),
        'meta.loss_grad': scalar(q['meta_loss_grad']),
        'meta.inner_grad': vec(q['meta_inner_grad']),
        'meta.task_loss': scalar(q['meta_task_loss']),
        'meta.task_grad': vec(q['meta_task_grad']),
        'meta.outer_loss': scalar(q['meta_outer_loss']),
        'meta.hypergrad': vec(q['meta_hypergrad']),
        'meta.loss_generator': vec(q['meta_loss_generator']),
        'meta.task_exp_avg': vec(q['meta_task_state']['exp_avg']),
        'meta.task_exp_avg_sq': vec(q['meta_task_state']['exp_avg_sq']),
        'fusion.weights': q['fusion_weights'].to(torch.float64),
        'fusion.loss_int': scalar(q['fusion_loss_int']),
        'fusion.loss_grad': scalar(q['fusion_loss_grad']),
        'fusion.grad': vec(q['fusion_grad']),
        'fusion.fusion_net': vec(q['fusion_net']),
        'fusion.fusion_exp_avg': vec(q['fusion_state']['exp_avg']),
        'fusion.fusion_exp_avg_sq': vec(q['fusion_state']['exp_avg_sq']),
        'fusion.task_loss': scalar(q['fusion_task_loss']),
        'fusion.task_grad': vec(q['fusion_task_grad']),
        'fusion.task': vec(q['fusion_task']),
        'fusion.task_exp_avg': vec(q['fusion_task_state']['exp_avg']),
        'fusion.task_exp_avg_sq': vec(q['fusion_task_state']['exp_avg_sq']),
    }


# ------------------------------------------------------------ official
OFFICIAL_MODULES = ('utils', 'nets.ReFusion')
#: train.py's constants the replayed lines use, and their published values
TRAIN_CONSTANTS = dict(lr=1e-4, coef_f_int=1, coef_f_grad=1, Switch=1)


def train_constants(official_dir: str) -> dict:
    """The values of :data:`TRAIN_CONSTANTS` assigned at the top level of
    the checkout's ``train.py`` (literals only; the published values where
    absent)."""
    path = osp.join(official_dir, 'train.py')
    out = dict(TRAIN_CONSTANTS)
    if not osp.isfile(path):
        return out
    with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read(), path)
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and \
                isinstance(node.targets[0], ast.Name) and \
                node.targets[0].id in out:
            try:
                out[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
    return out


class _CastingConv:
    """The ``torch.nn.functional`` namespace with ``conv2d`` casting its
    weight to the input's dtype (the official ``Fusionloss_grad`` builds
    float32 Sobel kernels)."""

    def __init__(self, functional):
        self._functional = functional

    def __getattr__(self, name):
        return getattr(self._functional, name)

    def conv2d(self, input, weight, *args, **kwargs):
        return self._functional.conv2d(input, weight.to(input.dtype), *args,
                                       **kwargs)


def official_step(official_dir: str,
                  seed: int = 0,
                  pair: Optional[Sequence[str]] = None,
                  **options) -> Dict[str, Tensor]:
    """The official training loop's first meta iteration and first
    "Learning of F and T" iteration (see the module docstring), from the
    checkout ``official_dir``; the quantities of :data:`QUANTITIES`."""
    from mmfusion.models.utils.ckpt_convert import tdfusion_convert
    from mmfusion.models.utils.misc import unwrap
    common.check_checkout(official_dir, OFFICIAL_MODULES)
    case = make_case(seed, pair, **options)
    batches = load_batches(case)
    model, _ = build_mmfusion(case)
    windows = crop_windows(case, batches)
    with torch.no_grad():
        data = [
            model.data_preprocessor(copy.deepcopy(b), True) for b in batches
        ]
    tensors = [(d['inputs']['ir'], d['inputs']['vis_y'],
                torch.stack([s.gt_sem_seg.data[0]
                             for s in d['data_samples']]).long())
               for d in data]
    const = train_constants(official_dir)
    if const['Switch'] != 1:
        raise ValueError(f'{official_dir}/train.py sets Switch='
                         f'{const["Switch"]}; the replay covers Switch=1')
    crop = case['crop']
    resize_h, resize_w = case['task_size']
    f64 = torch.float64

    with common.official_modules(official_dir, OFFICIAL_MODULES) as mods:
        utils, nets = mods['utils'], mods['nets.ReFusion']
        functional = utils.F
        utils.F = _CastingConv(functional)
        try:
            # train.py: Model Definition (moved to float64)
            Fusion_model = nets.ReFusion().to(f64)
            Loss_model = torch.nn.DataParallel(nets.LPN()).to(f64)
            Task_model = OfficialTaskInterface(build_shared_task(seed))
            # the same weights as mmfusion's, through the converter
            common.load_converted(Fusion_model, unwrap(model.fusion_net),
                                  tdfusion_convert)
            common.load_converted(
                Loss_model.module, unwrap(model.loss_generator),
                lambda s: tdfusion_convert(s, net='loss_generator'))
            fusion_names = common.key_map(
                tdfusion_convert, dict(Fusion_model.named_parameters()))
            lpn_names = common.key_map(
                lambda s: tdfusion_convert(s, net='loss_generator'),
                dict(Loss_model.module.named_parameters()))

            lr = const['lr']
            optimizer1 = torch.optim.Adam(
                Fusion_model.parameters(), lr=lr, weight_decay=0)
            optimizer2 = torch.optim.Adam(
                Task_model.parameters(), lr=lr, weight_decay=0)
            optimizer3 = torch.optim.Adam(
                Loss_model.parameters(), lr=lr, weight_decay=0, eps=1e-10)
            Fusion_model.train()
            Task_model.train()
            Loss_model.train()
            lr_epoch = optimizer1.param_groups[0]['lr']
            rec = _replay(utils, const, crop, resize_h, resize_w, windows,
                          tensors, Fusion_model, Loss_model, Task_model,
                          optimizer1, optimizer2, optimizer3, lr_epoch)
        finally:
            utils.F = functional

    def by_name(named, names):
        return {names[k]: v for k, v in named.items()}

    task_prefix = 'adapter.'
    return _quantities(
        meta_weights=rec['meta_weights'],
        meta_loss_int=rec['meta_loss_int'],
        meta_loss_grad=rec['meta_loss_grad'],
        meta_inner_grad=by_name(rec['meta_inner_grad'], fusion_names),
        meta_task_loss=rec['meta_task_loss'],
        meta_task_grad=common.strip_prefix(rec['meta_task_grad'], task_prefix),
        meta_outer_loss=rec['meta_outer_loss'],
        meta_hypergrad=by_name(rec['meta_hypergrad'], lpn_names),
        meta_loss_generator=by_name(rec['meta_loss_generator'], lpn_names),
        meta_task_state={
            k: common.strip_prefix(v, task_prefix)
            for k, v in rec['meta_task_state'].items()
        },
        fusion_weights=rec['fusion_weights'],
        fusion_loss_int=rec['fusion_loss_int'],
        fusion_loss_grad=rec['fusion_loss_grad'],
        fusion_grad=by_name(rec['fusion_grad'], fusion_names),
        fusion_net=by_name(rec['fusion_net'], fusion_names),
        fusion_state={
            k: by_name(v, fusion_names)
            for k, v in rec['fusion_state'].items()
        },
        fusion_task_loss=rec['fusion_task_loss'],
        fusion_task_grad=common.strip_prefix(rec['fusion_task_grad'],
                                             task_prefix),
        fusion_task=_task_tensors(Task_model, task_prefix),
        fusion_task_state={
            k: common.strip_prefix(v, task_prefix)
            for k, v in rec['fusion_task_state'].items()
        })


def _replay(utils, const, crop, resize_h, resize_w, windows, tensors,
            Fusion_model, Loss_model, Task_model, optimizer1, optimizer2,
            optimizer3, lr_epoch) -> dict:
    """The loop body of ``train.py`` for ``i = 0``, ``i = 1`` (Learning of
    G) and the first iteration of Learning of F and T, statement by
    statement (``Switch=1``, a segmentation data set); ``rec`` records the
    quantities between the statements."""
    coef_f_int, coef_f_grad = const['coef_f_int'], const['coef_f_grad']
    rec = {}
    lpn = Loss_model.module
    with tempfile.TemporaryDirectory() as exppath:
        # ---- Learning of G, i = 0: inner loop
        data_IR_ori, data_VIS_ori, mask_t = tensors[0]
        H, W = data_IR_ori.shape[2:]
        h, w = windows['meta']  # forced: int((H-256)*random.random()) ...
        torch.save(Task_model.state_dict(),
                   osp.join(exppath, 'interim_sta_DS.pth'))
        data_IR_crop = data_IR_ori[:, :, h:h + crop, w:w + crop]
        data_VIS_crop = data_VIS_ori[:, :, h:h + crop, w:w + crop]
        data_IR_resize = F.interpolate(
            data_IR_ori, size=(resize_h, resize_w), mode='bilinear')
        data_VIS_resize = F.interpolate(
            data_VIS_ori, size=(resize_h, resize_w), mode='bilinear')
        data_IR_crop, data_VIS_crop = torch.cat(
            (data_IR_crop, data_VIS_crop), 0), torch.cat(
                (data_VIS_crop, data_IR_crop), 0)
        data_IR_resize, data_VIS_resize = torch.cat(
            (data_IR_resize, data_VIS_resize), 0), torch.cat(
                (data_VIS_resize, data_IR_resize), 0)
        mask_t = torch.cat((mask_t, mask_t), 0)
        optimizer1.zero_grad()
        optimizer2.zero_grad()
        optimizer3.zero_grad()
        data_Fuse = Fusion_model(torch.cat((data_IR_crop, data_VIS_crop), 1))
        w = Loss_model(torch.cat((data_IR_crop, data_VIS_crop), 1))
        rec['meta_weights'] = w.detach().clone()
        loss_f_int = utils.Fusionloss_int(data_Fuse, data_IR_crop,
                                          data_VIS_crop, w[:, 0:1, :, :],
                                          w[:, 1:2, :, :])
        loss_f_grad = utils.Fusionloss_grad(data_Fuse, data_IR_crop,
                                            data_VIS_crop)
        Fusion_loss = coef_f_int * loss_f_int + coef_f_grad * loss_f_grad
        rec['meta_loss_int'] = loss_f_int.detach()
        rec['meta_loss_grad'] = loss_f_grad.detach()
        Fusion_loss.backward(create_graph=True, retain_graph=True)
        rec['meta_inner_grad'] = common.grads(Fusion_model)
        utils.inner_update(Fusion_model, lr_epoch)
        w = Loss_model(torch.cat((data_IR_resize, data_VIS_resize),
                                 1)).detach()
        data_Fuse = Fusion_model(
            torch.cat((data_IR_resize, data_VIS_resize), 1)).detach()
        data_task = Task_model(data_Fuse)
        Task_loss = utils.CE_Loss(data_task, mask_t)
        rec['meta_task_loss'] = Task_loss.detach()
        Task_loss.backward()
        rec['meta_task_grad'] = common.grads(Task_model)
        optimizer2.step()

        # ---- Learning of G, i = 1: outer loop
        data_IR_ori, data_VIS_ori, mask_t = tensors[1]
        data_IR_resize = F.interpolate(
            data_IR_ori, size=(resize_h, resize_w), mode='bilinear')
        data_VIS_resize = F.interpolate(
            data_VIS_ori, size=(resize_h, resize_w), mode='bilinear')
        data_IR_resize, data_VIS_resize = torch.cat(
            (data_IR_resize, data_VIS_resize), 0), torch.cat(
                (data_VIS_resize, data_IR_resize), 0)
        mask_t = torch.cat((mask_t, mask_t), 0)
        optimizer3.zero_grad()
        data_Fuse = Fusion_model(
            torch.cat((data_IR_resize, data_VIS_resize), 1), meta=True)
        data_task = Task_model(data_Fuse)
        Task_loss = utils.CE_Loss(data_task, mask_t)
        rec['meta_outer_loss'] = Task_loss.detach()
        Task_loss.backward()
        rec['meta_hypergrad'] = common.grads(lpn)
        utils.outer_update(Loss_model, lr_epoch)
        rec['meta_loss_generator'] = common.params(lpn)
        Task_model.load_state_dict(
            torch.load(osp.join(exppath, 'interim_sta_DS.pth')))
        rec['meta_task_state'] = _adam_state(optimizer2, Task_model)

        # ---- Learning of F and T, first iteration
        Loss_model.eval()
        data_IR_ori, data_VIS_ori, mask_t = tensors[2]
        H, W = data_IR_ori.shape[2:]
        h, w = windows['fusion']  # forced, as above
        data_IR_crop = data_IR_ori[:, :, h:h + crop, w:w + crop]
        data_VIS_crop = data_VIS_ori[:, :, h:h + crop, w:w + crop]
        data_IR_resize = F.interpolate(
            data_IR_ori, size=(resize_h, resize_w), mode='bilinear')
        data_VIS_resize = F.interpolate(
            data_VIS_ori, size=(resize_h, resize_w), mode='bilinear')
        data_IR_crop, data_VIS_crop = torch.cat(
            (data_IR_crop, data_VIS_crop), 0), torch.cat(
                (data_VIS_crop, data_IR_crop), 0)
        data_IR_resize, data_VIS_resize = torch.cat(
            (data_IR_resize, data_VIS_resize), 0), torch.cat(
                (data_VIS_resize, data_IR_resize), 0)
        mask_t = torch.cat((mask_t, mask_t), 0)
        optimizer1.zero_grad()
        data_Fuse = Fusion_model(torch.cat((data_IR_crop, data_VIS_crop), 1))
        w = Loss_model(torch.cat((data_IR_crop, data_VIS_crop), 1)).detach()
        rec['fusion_weights'] = w.clone()
        loss_f_int = utils.Fusionloss_int(data_Fuse, data_IR_crop,
                                          data_VIS_crop, w[:, 0:1, :, :],
                                          w[:, 1:2, :, :])
        loss_f_grad = utils.Fusionloss_grad(data_Fuse, data_IR_crop,
                                            data_VIS_crop)
        Fusion_loss = coef_f_int * loss_f_int + coef_f_grad * loss_f_grad
        rec['fusion_loss_int'] = loss_f_int.detach()
        rec['fusion_loss_grad'] = loss_f_grad.detach()
        Fusion_loss.backward()
        rec['fusion_grad'] = common.grads(Fusion_model)
        optimizer1.step()
        rec['fusion_net'] = common.params(Fusion_model)
        rec['fusion_state'] = _adam_state(optimizer1, Fusion_model)
        optimizer2.zero_grad()
        w = Loss_model(torch.cat((data_IR_resize, data_VIS_resize),
                                 1)).detach()
        data_Fuse = Fusion_model(
            torch.cat((data_IR_resize, data_VIS_resize), 1)).detach()
        data_task = Task_model(data_Fuse)
        Task_loss = utils.CE_Loss(data_task, mask_t)
        rec['fusion_task_loss'] = Task_loss.detach()
        Task_loss.backward()
        rec['fusion_task_grad'] = common.grads(Task_model)
        optimizer2.step()
        rec['fusion_task_state'] = _adam_state(optimizer2, Task_model)
    return rec
