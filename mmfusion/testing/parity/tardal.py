# Copyright (c) mmfusion contributors. All rights reserved.
"""TarDAL: one training iteration of the official v1.0 code
(JinyuanLiu-CV/TarDAL, ``scripts/train_fd.py`` + ``pipeline/fuse.py``) and
of mmfusion's :class:`~mmfusion.models.TarDAL`, on the same weights and
batch, in float64.

The iteration is the loop body of ``TrainFD.run`` after the warm-ups (a
``'joint'`` iteration: adversarial terms on, ``d_warming=False``), with an
optimiser step at this iteration (``accumulate`` reached):

1. ``Fuse.criterion_generator`` (train mode), ``Fuse.eval`` for the
   detector's input, ``g_loss = 0.5 f_loss + 0.5 d_loss``, backward,
   ``clip_grad_norm_(max_norm=10)``, ``fd_opt.step()``;
2. ``Fuse.criterion_dis_t``, ``disc_opt`` step; 3. ``Fuse.criterion_dis_d``,
   ``disc_opt`` step.

What each side gets
-------------------
- **Weights**: :func:`~mmfusion.testing.parity.common.seeded_init_` on
  mmfusion's ``TarDALGenerator`` (published dim 32, depth 3) and both
  ``TarDALDiscriminator`` (dim 32, built for the batch's 64 x 64); the
  official ``Generator`` receives them through the project's converter
  (``tardal_convert``), the official ``Discriminator`` by its own key names.
- **Batch**: two MSRS pairs of the bundled ``data/msrs_demo/train``
  (:data:`DEFAULT_STEMS`), read by mmfusion's pipeline with their boxes,
  resized to 64 x 64 (``mmdet.Resize``, ``keep_ratio=False``, as the
  released loader resizes every map), IR / VIS Y / CbCr in float64. The
  official loop receives the same tensors, the target mask ``mask`` =
  mmfusion's box mask (:func:`~mmfusion.models.algorithms.tardal.
  boxes_to_mask`; the released loader reads U2-Net saliency masks from
  ``mask/``) and the information maps ``ir_w = vi_w = 0.5`` (mmfusion's
  constant weights; released: VGG-16 maps from ``iqa/``).
- **Detector (stubbed)**: the released detector is YOLOv5s with its own
  loss (``pipeline/detect.py``). Its input ``Fuse.eval(...)`` is computed
  under ``torch.no_grad``, so its loss never reaches the generator: the
  generator's and the critics' figures do not depend on it. The official
  side's ``Detect.criterion`` is a stand-in returning 0 (no parameters), and
  mmfusion's detector step (the shared tiny RetinaNet) is not compared.
- **Random numbers**: WGAN-div's ``alpha`` (``torch.rand((B, 1, 1, 1))``,
  drawn by the official ``div_loss`` from the global stream, once per
  critic) comes from the global stream seeded with mmfusion's (seed,
  iteration) stream seed, which mmfusion's :meth:`TarDAL.div_alphas` draws
  from in the same order.
- **float64**: every network is moved to float64; ``.cuda()`` returns its
  object (:func:`~mmfusion.testing.parity.bdlfusion.cpu_float64`, whose
  float64 default dtype is switched off for ``alpha``'s draw); kornia's
  ``MS_SSIMLoss`` masks are rebuilt in float64 (they are made in float32,
  then moved).

The official modules (``pipeline.fuse``, ``module.fuse.*``,
``functions.div_loss``, ``functions.get_param_groups``,
``scripts.utils.smart_optimizer``, ``config``) are imported from the
checkout, which needs kornia >= 0.6.8 (< 0.7.1: the mask layout this
comparison was made with) importable; ``Fuse``'s constructor, criteria and
optimisers are the checkout's, called as written, with the released
``tardal-ct.yaml`` (``train.image_size`` set to the batch's 64 x 64).
"""
import contextlib
import copy
import os.path as osp
from typing import Dict, Optional, Sequence

import torch
from torch import Tensor

from mmfusion.structures.phases import phase_scope
from . import common
from .bdlfusion import Float64FusionInputs, cpu_float64, official_imports

#: the quantities both steps return, in report order
QUANTITIES = ('mask', 'fusion.loss', 'fusion.grad', 'fusion.params',
              'fusion.momentum', 'fusion.bn_stats', 'target.loss',
              'target.grad', 'target.params', 'detail.loss', 'detail.grad',
              'detail.params')
DEFAULT_STEMS = ('00004N', '00225D')
SIZE = 64
CONFIG = 'configs/tardal/tardal_retinanet_msrs.py'
OFFICIAL_YAML = 'config/official/train/tardal-ct.yaml'
OFFICIAL_MODULES = ('pipeline.fuse', 'functions.div_loss',
                    'scripts.utils.smart_optimizer')
#: the replayed iteration (its index seeds alpha on both sides)
ITER = 0
#: fd_opt's lr at the replayed iteration (lr_i x lr_fn(0) after warm-up)
LR = 1e-2

repo_root = common.repo_root


def make_case(seed: int = 0,
              pair: Optional[Sequence[str]] = None,
              preset: Optional[str] = None) -> dict:
    if preset not in (None, 'small'):
        raise ValueError("TarDAL's comparison has one preset, 'small'; got "
                         f'{preset!r}')
    stems = tuple(pair) if isinstance(
        pair, (list, tuple)) else (DEFAULT_STEMS if pair is None else (pair, ))
    return dict(
        seed=int(seed),
        stems=stems,
        data_root=str(repo_root() / 'data/msrs_demo/train'))


def load_batch(case: dict) -> dict:
    """The case's pairs, resized to ``SIZE`` x ``SIZE`` with their boxes,
    collated."""
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import init_default_scope

    from mmfusion.registry import DATASETS
    init_default_scope('mmfusion')
    root = case['data_root']
    ds = DATASETS.build(
        dict(
            type='MSRSDataset',
            data_root=osp.dirname(root),
            data_prefix=dict(
                ir=osp.basename(root) + '/ir',
                vis=osp.basename(root) + '/vi',
                det=osp.basename(root) + '/Detection_labels'),
            pipeline=[
                dict(type='LoadPairedImageFromFile'),
                dict(
                    type='mmdet.LoadAnnotations',
                    with_bbox=True,
                    with_label=True),
                dict(
                    type='mmdet.Resize', scale=(SIZE, SIZE), keep_ratio=False),
                dict(type='PackFusionInputs')
            ]))
    index = {
        osp.splitext(osp.basename(ds.get_data_info(i)['ir_path']))[0]: i
        for i in range(len(ds))
    }
    missing = [s for s in case['stems'] if s not in index]
    if missing:
        raise KeyError(f'{root}: no pair {missing} (has {sorted(index)})')
    return pseudo_collate([ds[index[s]] for s in case['stems']])


class Float64DetPreProcessor(torch.nn.Module):
    """An mmdet data preprocessor whose (float32) output is cast to
    float64, so a float64 detector runs (its step is not compared)."""

    def __init__(self, inner: torch.nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, data: dict, training: bool = False) -> dict:
        out = self.inner(data, training)
        out['inputs'] = out['inputs'].to(torch.float64)
        return out


def _prepare_detector(adapter) -> None:
    adapter.model.data_preprocessor = Float64DetPreProcessor(
        adapter.model.data_preprocessor)


def build_mmfusion(case: dict, model_options: Optional[dict] = None):
    """mmfusion's TarDAL of :data:`CONFIG` (critics built for ``SIZE``,
    the shared tiny RetinaNet as the detector, no gradient accumulation:
    the replayed iteration steps), seeded, float64."""
    from mmfusion.testing import tiny_detector
    cfg = common.load_config(CONFIG)
    for name in ('target_discriminator', 'detail_discriminator'):
        cfg.model[name].size = (SIZE, SIZE)
    cfg.model.task = dict(
        type='TaskAdapter', model=tiny_detector(3), input_format='rgb')
    for name in ('fusion_net', 'task'):
        cfg.optim_wrapper[name].accumulative_counts = 1
    model, ow = common.build_float64_model(
        cfg,
        case['seed'],
        nets=('fusion_net', 'target_discriminator', 'detail_discriminator'),
        inputs_wrapper=Float64FusionInputs,
        prepare_task=_prepare_detector,
        model_options=model_options)
    return model, ow


def _quantities(mask, f_loss, g_grad, gen, mom, t_loss, t_grad, dis_t, d_loss,
                d_grad, dis_d, names) -> Dict[str, Tensor]:
    return {
        'mask': mask.to(torch.float64),
        'fusion.loss': common.scalar(f_loss),
        'fusion.grad': common.named_vector(g_grad, names['g']),
        'fusion.params': common.named_vector(common.params(gen), names['g']),
        'fusion.momentum': common.named_vector(mom, names['g']),
        'fusion.bn_stats': common.named_vector(common.bn_buffers(gen)),
        'target.loss': common.scalar(t_loss),
        'target.grad': common.named_vector(t_grad, names['d']),
        'target.params': common.named_vector(common.params(dis_t), names['d']),
        'detail.loss': common.scalar(d_loss),
        'detail.grad': common.named_vector(d_grad, names['d']),
        'detail.params': common.named_vector(common.params(dis_d), names['d']),
    }


def _names(gen_keys):
    return dict(
        g=sorted(gen_keys),
        d=[
            'conv.0.0.weight', 'conv.0.0.bias', 'conv.1.0.weight',
            'conv.1.0.bias', 'conv.2.0.weight', 'conv.2.0.bias',
            'linear.weight', 'linear.bias'
        ])


def mmfusion_step(seed: int = 0,
                  pair=None,
                  preset: Optional[str] = None,
                  model_options: Optional[dict] = None) -> Dict[str, Tensor]:
    """mmfusion's ``train_step`` of a ``'joint'`` iteration; the figures of
    :data:`QUANTITIES` (generator parameter names as mmfusion's)."""
    from mmengine.logging import MessageHub

    from mmfusion.models.utils.misc import unwrap
    case = make_case(seed, pair, preset)
    batch = load_batch(case)
    model, ow = build_mmfusion(case, model_options)
    MessageHub.get_current_instance().update_info('iter', ITER)
    gen = unwrap(model.fusion_net)
    dis_t, dis_d = model.target_discriminator, model.detail_discriminator
    for w in ow.values():
        for g in w.param_groups:
            g.setdefault('initial_lr', g['lr'])
    records = {k: [] for k in ('g', 't', 'd')}
    hooks = [
        common.grad_recorder(ow['fusion_net'].optimizer, gen, records['g']),
        common.grad_recorder(ow['target_discriminator'].optimizer, dis_t,
                             records['t']),
        common.grad_recorder(ow['detail_discriminator'].optimizer, dis_d,
                             records['d'])
    ]
    data = model.data_preprocessor(copy.deepcopy(batch), True)
    mask = model.target_mask(data['inputs'], data['data_samples'])
    with phase_scope('joint'):
        log = model.train_step(batch, ow)
    for h in hooks:
        h.remove()
    mom = common.optimizer_state(ow['fusion_net'].optimizer, gen,
                                 'momentum_buffer')
    return _quantities(mask, log['fusion.loss'], records['g'][0], gen, mom,
                       log['target.loss'], records['t'][0], dis_t,
                       log['detail.loss'], records['d'][0], dis_d,
                       _names(k for k, _ in gen.named_parameters()))


@contextlib.contextmanager
def _float32_rand():
    """``torch.rand`` draws float32 (then promoted), as mmfusion's stream
    draws alpha, inside :func:`cpu_float64`."""
    rand = torch.rand

    def rand32(*args, **kwargs):
        kwargs.setdefault('dtype', torch.float32)
        return rand(*args, **kwargs)

    torch.rand = rand32
    try:
        yield
    finally:
        torch.rand = rand


def official_step(official_dir: str,
                  seed: int = 0,
                  pair=None,
                  preset: Optional[str] = None) -> Dict[str, Tensor]:
    """The official iteration (see the module docstring) on the case's
    weights and batch; generator parameters named as mmfusion's (through
    the converter's mapping)."""
    import yaml

    from mmfusion.models.algorithms.tardal import boxes_to_mask
    from mmfusion.models.utils.ckpt_convert import tardal_convert
    from mmfusion.models.utils.misc import stream_seed, unwrap
    case = make_case(seed, pair, preset)
    batch = load_batch(case)
    ours, _ = build_mmfusion(case)  # the seeded weights
    data = ours.data_preprocessor(copy.deepcopy(batch), True)
    x = data['inputs']
    mask = boxes_to_mask(data['data_samples'], x['ir'].shape[-2:], x['ir'])
    with official_imports(official_dir, OFFICIAL_MODULES) as mods, \
            cpu_float64(), _float32_rand():
        import importlib
        config = importlib.import_module('config')  # (a package there)
        raw = yaml.safe_load(open(osp.join(official_dir, OFFICIAL_YAML)))
        raw['fuse']['pretrained'] = None
        raw['train']['image_size'] = [SIZE, SIZE]
        cfg = config.from_dict(raw)
        fuse = mods['pipeline.fuse'].Fuse(cfg, mode='train')
        fuse.device = torch.device('cpu')
        common.load_converted(fuse.generator, unwrap(ours.fusion_net),
                              tardal_convert)
        fuse.dis_t.load_state_dict(ours.target_discriminator.state_dict())
        fuse.dis_d.load_state_dict(ours.detail_discriminator.state_dict())
        _float64_ms_ssim(fuse.ms_ssim_loss)
        for net in (fuse.generator, fuse.dis_t, fuse.dis_d):
            net.double()
        smart = mods['scripts.utils.smart_optimizer'].smart_optimizer
        o_cfg = cfg.optimizer
        fd_opt = smart(o_cfg, fuse.param_groups('g'))
        disc_opt = smart(o_cfg, fuse.param_groups('d'), lr=o_cfg.lr_d)
        for g in fd_opt.param_groups:
            g['lr'] = LR
        mapping = common.key_map(tardal_convert, fuse.generator.state_dict())
        ir, vi = x['ir'], x['vis_y']
        w = torch.full_like(ir, 0.5)
        records = {k: [] for k in ('g', 't', 'd')}
        hooks = [
            common.grad_recorder(fd_opt, fuse.generator, records['g']),
            common.grad_recorder(disc_opt, fuse.dis_t, records['t']),
            common.grad_recorder(disc_opt, fuse.dis_d, records['d'])
        ]
        # train_fd.py, loop body (after the warm-up lines)
        fd_opt.zero_grad()
        f_loss, _ = fuse.criterion_generator(
            ir=ir, vi=vi, mk=mask, w1=w, w2=w, d_warming=False)
        fuse.eval(ir=ir, vi=vi)  # the detector's input (no gradient)
        d_loss = torch.zeros((), dtype=torch.float64)  # the YOLOv5 stand-in
        b_c = cfg.loss.bridge
        g_loss = b_c['fuse'] * f_loss + b_c['detect'] * d_loss
        g_loss.backward()
        torch.nn.utils.clip_grad_norm_(fuse.generator.parameters(), 10.0)
        fd_opt.step()
        fd_opt.zero_grad()
        torch.manual_seed(stream_seed(case['seed'], ITER))
        d_t_loss = fuse.criterion_dis_t(ir=ir, vi=vi, mk=mask)
        disc_opt.zero_grad()
        d_t_loss.backward()
        disc_opt.step()
        d_d_loss = fuse.criterion_dis_d(ir=ir, vi=vi, mk=mask)
        disc_opt.zero_grad()
        d_d_loss.backward()
        disc_opt.step()
        for h in hooks:
            h.remove()
        mom = common.optimizer_state(fd_opt, fuse.generator, 'momentum_buffer')

    def renamed(named):
        return {mapping[k]: v for k, v in named.items()}

    gen_keys = [mapping[k] for k, _ in fuse.generator.named_parameters()]
    return _quantities(mask, b_c['fuse'] * f_loss, renamed(records['g'][0]),
                       _Renamed(fuse.generator, mapping), renamed(mom),
                       d_t_loss, records['t'][0], fuse.dis_t, d_d_loss,
                       records['d'][1], fuse.dis_d, _names(gen_keys))


class _Renamed(torch.nn.Module):
    """The official generator's parameters and buffers under mmfusion's
    names (for the figures)."""

    def __init__(self, net, mapping):
        super().__init__()
        self.net, self.mapping = net, mapping

    def named_parameters(self, *args, **kwargs):
        for k, v in self.net.named_parameters():
            yield self.mapping[k], v

    def named_buffers(self, *args, **kwargs):
        for k, v in self.net.named_buffers():
            yield self.mapping[k], v


def _float64_ms_ssim(loss: torch.nn.Module) -> None:
    """kornia's MS_SSIMLoss masks rebuilt in float64 (same layout)."""
    from mmfusion.models.losses.tardal_loss import _gaussian_1d
    masks = loss._g_masks
    n = masks.size(0) // 3
    sigmas = (0.5, 1., 2., 4., 8.)[:n]
    size = masks.size(-1)
    exact = []
    for s in sigmas:
        g = _gaussian_1d(size, s)
        exact += [torch.outer(g, g)] * 3
    loss._g_masks = torch.stack(exact).unsqueeze(1)
