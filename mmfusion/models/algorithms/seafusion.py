# Copyright (c) mmfusion contributors. All rights reserved.
import contextlib
import copy
from typing import Dict, Optional, Sequence

import torch
from mmengine.optim import OptimWrapperDict
from torch import Tensor

from mmfusion.registry import MODELS
from mmfusion.structures import PhaseSpec
from mmfusion.utils import rgb_to_ycbcr, ycbcr_to_rgb
from ..utils.misc import prefix_log_vars as _prefixed
from ..utils.misc import seeded_generator, stream_seed, unwrap
from .fusion_model import ConfigType, FusionModel


def _is_stochastic_or_stat_layer(module: torch.nn.Module) -> bool:
    """Layers whose train/eval modes differ in computation: normalisation
    with running statistics, dropout and drop-path."""
    from torch.nn.modules.batchnorm import _BatchNorm
    from torch.nn.modules.dropout import _DropoutNd
    from torch.nn.modules.instancenorm import _InstanceNorm
    return isinstance(module, (_BatchNorm, _InstanceNorm, _DropoutNd)) or \
        type(module).__name__ in ('DropPath', 'Dropout')


@contextlib.contextmanager
def frozen(module: torch.nn.Module, layers_only: bool = False):
    """Eval mode and ``requires_grad=False`` for ``module``'s parameters
    inside the block; both restored afterwards.

    Gradients still flow *through* the module to its inputs (SeAFusion's
    semantic loss reaches the fused image through the frozen segmenter), but
    none is accumulated in its parameters, and BatchNorm uses (and does not
    update) its running statistics, as the released code's ``S.eval()``.

    ``layers_only``: only the layers whose modes compute differently
    (normalisation with running statistics, dropout, drop-path) go to eval
    mode; the rest keeps its mode, so a model whose heads produce their
    training outputs only in training mode (PIDNet, DDRNet: the auxiliary
    and boundary branches) can still give its loss. For every other model
    this equals ``eval()``.
    """
    modes = [(m, m.training) for m in module.modules()]
    flags = [(p, p.requires_grad) for p in module.parameters()]
    if layers_only:
        for m, _ in modes:
            if _is_stochastic_or_stat_layer(m):
                m.eval()
    else:
        module.eval()
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield module
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)
        for m, training in modes:
            m.training = training


def colour_jitter(rgb: Tensor,
                  brightness: float = 0.,
                  contrast: float = 0.,
                  saturation: float = 0.,
                  generator: Optional[torch.Generator] = None) -> Tensor:
    """Photometric jitter of an RGB batch in [0, 1], one random factor per
    image and property, drawn uniformly from ``[max(0, 1 - x), 1 + x]``.

    Applied in the fixed order brightness, contrast, saturation, each
    followed by clamping to [0, 1]: brightness scales the image; contrast
    blends it with the mean of its grey (Y) image; saturation blends it with
    its grey image (as PIL's ``ImageEnhance`` defines them). SeAFusion's
    segmenter is trained with ``ColorJitter(0.5, 0.5, 0.5)``.
    """
    n = rgb.size(0)

    def factors(x):
        low = max(0., 1. - x)
        u = torch.rand(n, 1, 1, 1, generator=generator)
        return (low + u * (1. + x - low)).to(rgb)

    def grey(img):
        return (0.299 * img[:, 0:1] + 0.587 * img[:, 1:2] +
                0.114 * img[:, 2:3])

    if brightness:
        rgb = (rgb * factors(brightness)).clamp(0, 1)
    if contrast:
        mean = grey(rgb).mean(dim=(1, 2, 3), keepdim=True)
        rgb = (mean + (rgb - mean) * factors(contrast)).clamp(0, 1)
    if saturation:
        g = grey(rgb)
        rgb = (g + (rgb - g) * factors(saturation)).clamp(0, 1)
    return rgb


@MODELS.register_module()
class SeAFusion(FusionModel):
    r"""SeAFusion's joint adaptive training of the fusion net and a
    segmenter (Tang et al., "Image fusion in the loop of high-level vision
    tasks: a semantic-aware real-time infrared and visible image fusion
    network", Information Fusion 82 (2022) 28-42).

    Training runs rounds :math:`r = 0..R` (published :math:`R = 3`); round
    :math:`r` is a ``'fusion'`` phase and then a ``'task'`` phase, scheduled
    by :class:`PhasedTrainLoop` (its ``cycle`` index is the round):

    ``'fusion'``
        at the first iteration of rounds :math:`r \ge 1` the fusion net is
        re-initialised (published: ``F = FusionNet()`` every round) and its
        optimiser state cleared (a new Adam); then the fusion net learns

        .. math::
            L = L_{content}(F(x)) + \beta_r L_{sem}(S(\mathrm{rgb}(F(x))), y)

        with the **frozen** task model :math:`S` (normalisation and dropout
        in eval mode, no parameter gradients, no updates; see
        :func:`frozen`); :math:`L_{sem}` is the task's own loss
        (through :class:`TaskAdapter`, fed the fused Y recombined with the VIS
        chroma), optionally with its terms rescaled (published: OHEM CE of
        the main head + 0.1 x the auxiliary head's, while the segmenter
        itself trains with 0.75 x aux). :math:`\beta_r = r` as published; no
        task forward when :math:`\beta_r = 0`.
    ``'task'``
        the task model **continues** training (never re-initialised) on the
        images the frozen current fusion net produces from the training pairs.
        The released code writes them to PNG and trains the segmenter on the
        files; here they are fused on the fly. Without augmentation that is
        the same function of the same pairs (the fusion net does not change
        during the phase, and the released code fuses with the final weights
        of the round too). Differences: the segmenter's geometric
        augmentation (scale, crop, flip) runs on the IR/VIS pair *before*
        fusion instead of on the fused image (equal for crops away from the
        borders; not for flips and rescaling, since the learnt net is
        neither flip- nor scale-equivariant); the photometric jitter
        (``task_colour_jitter``) is applied to the fused RGB in the step;
        the images are neither quantised to uint8 nor min-max normalised per
        batch (the task sees the clamped fused RGB, exactly what it sees in
        the semantic loss).

    Args:
        fusion_net / fusion_loss / task / data_preprocessor / colour /
            output_norm / predict_task / seed / ...: see
            :class:`FusionModel` (passed on as keywords; published:
            ``SeAFusionNet`` and ``MaxIntensityTextureLoss``). ``task``, a
            :class:`TaskAdapter` config, is required (any mmseg segmentor;
            the published one is a BiSeNet with OHEM CE main + aux heads);
            ``seed`` is the base of the re-initialisation and jitter
            generators.
        semantic_weights: :math:`\beta_r` for each round, or ``None`` for
            :math:`\beta_r = r` (published). A round without an entry raises.
        semantic_loss_scale: multipliers for the task's loss terms in
            :math:`L_{sem}`, by name prefix, e.g. ``dict(aux=0.1 / 0.75)``
            turns a task trained with ``0.75 x aux`` into a semantic loss with
            ``0.1 x aux``. ``None``: the task's loss as it trains.
        reinit_fusion_net: re-initialise the fusion net at the start of
            rounds ``r >= 1`` (published). ``False`` fine-tunes it across
            rounds instead. Round 0 uses the Runner's initialisation (or
            ``load_from``). Re-initialisation is seeded by ``(seed, r)``, so
            every DDP rank and every resumed run draws the same weights.
        reset_fusion_optimizer: clear the fusion optimiser's state (Adam
            moments) at the start of rounds ``r >= 1`` (published: a new
            Adam every round). The lr restart per round is the schedule's
            (:class:`PhasedParamSchedulerHook` with ``restart``).
        reset_task_optimizer: clear the task optimiser's state (SGD
            momentum buffers) at the start of the task phase of rounds
            ``r >= 1``: the released ``train_seg`` builds a new
            ``Optimizer`` every round (its lr schedule continues, through
            the iteration offset ``r x 20000``; so does the schedule here).
            ``False`` keeps the momentum across rounds.
        task_colour_jitter: ``dict(brightness=, contrast=, saturation=)``
            for :func:`colour_jitter` on the fused RGB in the task phase
            (published: 0.5 each), or ``None``.
        task_driven: ``False`` makes the task-free twin of the task-gain
            experiment (issue 23): the same rounds with :math:`\beta_r = 0`
            (``semantic_weights`` must be all zero) and no segmenter
            (``task=None``); the ``'task'`` phase's iterations are kept in
            the schedule as idle steps (they draw their batch and compute
            nothing), so the rounds, their re-initialisations and the
            fusion net's batches are the method's.
    """

    requires_task = True
    PHASES = (
        PhaseSpec(
            'fusion',
            batches=1,
            updates=('fusion_net', ),
            doc='content loss + beta x semantic loss of the frozen task; a '
            "new round starts at the phase's first step"),
        PhaseSpec(
            'task',
            batches=1,
            updates=('task', ),
            doc='the segmenter on fused images of its own loader'),
    )

    def __init__(self,
                 fusion_net: ConfigType,
                 semantic_weights: Optional[Sequence[float]] = None,
                 semantic_loss_scale: Optional[Dict[str, float]] = None,
                 reinit_fusion_net: bool = True,
                 reset_fusion_optimizer: bool = True,
                 reset_task_optimizer: bool = True,
                 task_colour_jitter: Optional[dict] = None,
                 task_driven: bool = True,
                 **kwargs):
        if not task_driven:
            if kwargs.get('task') is not None:
                raise ValueError(
                    'a task-free SeAFusion (task_driven=False) has no '
                    'segmenter: set model.task=None (and drop the task entry '
                    'of optim_wrapper)')
            if semantic_weights is None or any(semantic_weights):
                raise ValueError(
                    'a task-free SeAFusion (task_driven=False) trains on the '
                    'content loss alone: set semantic_weights to zeros, one '
                    f'per round (got {semantic_weights!r})')
            # (read by FusionModel.__init__: no task is needed)
            self.requires_task = False
        # (the config, for the per-round re-initialisation)
        super().__init__(fusion_net=fusion_net, **kwargs)
        self.task_driven = task_driven
        self.fusion_net_cfg = copy.deepcopy(fusion_net)
        self.semantic_weights = (None if semantic_weights is None else
                                 [float(b) for b in semantic_weights])
        self.semantic_loss_scale = dict(semantic_loss_scale or {})
        self.reinit_fusion_net = reinit_fusion_net
        self.reset_fusion_optimizer = reset_fusion_optimizer
        self.reset_task_optimizer = reset_task_optimizer
        if task_colour_jitter is not None:
            unknown = set(task_colour_jitter) - {
                'brightness', 'contrast', 'saturation'
            }
            if unknown:
                raise KeyError(
                    f'task_colour_jitter: unknown keys {sorted(unknown)}')
        self.task_colour_jitter = task_colour_jitter

    # ------------------------------------------------------------ schedule
    def semantic_weight(self, round_idx: int) -> float:
        """:math:`\\beta_r`."""
        if self.semantic_weights is None:
            return float(round_idx)
        if round_idx >= len(self.semantic_weights):
            raise IndexError(
                f'round {round_idx} has no semantic weight: semantic_weights '
                f'has {len(self.semantic_weights)} entries; max_iters must '
                'be (number of rounds) x (iterations per round)')
        return self.semantic_weights[round_idx]

    def seeded_fusion_state(self, round_idx: int) -> Dict[str, Tensor]:
        """State dict of a newly built fusion net for round ``round_idx``.

        Drawn from a private RNG stream seeded by ``(seed, round)``: the
        same on every DDP rank and in resumed runs, and the global stream
        (dropout, ...) is left untouched.
        """
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(stream_seed(self.seed, round_idx))
            fresh = MODELS.build(self.fusion_net_cfg)
            if hasattr(fresh, 'init_weights'):
                fresh.init_weights()
        return fresh.state_dict()

    def start_round(self, round_idx: int, ow: OptimWrapperDict) -> None:
        """New fusion net (:meth:`seeded_fusion_state`) and fresh optimiser
        state, as the released code's per-round ``FusionNet()`` and Adam."""
        if self.reinit_fusion_net:
            # copy in place: the optimiser and the DDP wrapper keep
            # referencing the same parameter tensors
            unwrap(self.fusion_net).load_state_dict(
                self.seeded_fusion_state(round_idx))
        if self.reset_fusion_optimizer:
            ow['fusion_net'].optimizer.state.clear()
        ow['fusion_net'].zero_grad()

    # ------------------------------------------------------------ steps
    def train_step(self, data,
                   optim_wrapper: OptimWrapperDict) -> Dict[str, Tensor]:
        phase, pos, round_idx = self.current_phase(data)
        if phase == 'fusion':
            if pos == 0 and round_idx > 0:
                self.start_round(round_idx, optim_wrapper)
            beta = self.semantic_weight(round_idx)
            log_vars = _prefixed(
                fusion=self.fusion_step(data, optim_wrapper, beta))
            log_vars['beta'] = torch.tensor(beta)
        elif not self.task_driven:
            log_vars = {}  # the task-free twin: an idle step
        else:
            if self.reset_task_optimizer and round_idx > 0 and pos == 0:
                optim_wrapper['task'].optimizer.state.clear()
                optim_wrapper['task'].zero_grad()
            log_vars = _prefixed(task=self.task_step(data, optim_wrapper))
        log_vars['round'] = torch.tensor(float(round_idx))
        return self.with_nonfinite_count(log_vars)

    def semantic_loss(self, fused_y: Tensor, inputs: Dict[str, Tensor],
                      samples: Sequence, beta: float) -> Dict[str, Tensor]:
        """:math:`\\beta L_{sem}` as named terms (``sem.<task term>``) from
        the frozen task, plus ``sem_raw``: the unweighted total (log
        only)."""
        with frozen(unwrap(self.task), layers_only=True) as task:
            # the unwrapped task: no DDP reducer is involved, as no task
            # gradient is wanted
            losses = task(fused_y, inputs['vis_cbcr'], samples, mode='loss')
        out, raw = {}, 0.
        for name, value in losses.items():
            if 'loss' not in name:
                out[f'sem.{name}'] = value  # e.g. accuracy, logged only
                continue
            scale = 1.
            for prefix, s in self.semantic_loss_scale.items():
                if name.startswith(prefix):
                    scale *= s
            value = _sum(value) * scale
            raw = raw + value.detach()
            out[f'sem.{name}'] = beta * value
        out['sem_raw'] = torch.as_tensor(raw)
        return out

    def fusion_step(self, data: dict, ow: OptimWrapperDict,
                    beta: float) -> Dict[str, Tensor]:
        data = self.data_preprocessor(data, True)
        inputs, samples = data['inputs'], data['data_samples']

        def losses():
            fused = self.fusion_net(inputs['ir'], inputs['vis_y'])
            out = self.compute_fusion_loss(fused, inputs)
            if beta != 0:  # round 0 trains on the content loss alone
                out.update(self.semantic_loss(fused, inputs, samples, beta))
            return out

        return self.guarded_update(ow['fusion_net'], losses, 'fusion',
                                   self.fusion_net)

    def fused_for_task(self, inputs: Dict[str, Tensor]):
        """Fused Y and the chroma the task sees in its phase: the frozen
        fusion net's output, photometrically jittered when configured."""
        with torch.no_grad(), frozen(unwrap(self.fusion_net)) as net:
            fused_y = net(inputs['ir'], inputs['vis_y'])
        cbcr = inputs['vis_cbcr']
        if self.task_colour_jitter:
            gen = seeded_generator(self.seed)
            rgb = colour_jitter(
                ycbcr_to_rgb(fused_y.clamp(0, 1), cbcr),
                generator=gen,
                **self.task_colour_jitter)
            fused_y, cbcr = rgb_to_ycbcr(rgb)
        return fused_y, cbcr

    def task_step(self, data: dict, ow: OptimWrapperDict) -> Dict[str, Tensor]:
        data = self.data_preprocessor(data, True)
        inputs, samples = data['inputs'], data['data_samples']

        def losses():
            fused_y, cbcr = self.fused_for_task(inputs)
            # through the task's DDP wrapper: its gradients are all-reduced
            return self.task(fused_y, cbcr, samples, mode='loss')

        return self.guarded_update(ow['task'], losses, 'task', self.task)


def _sum(value) -> Tensor:
    """A loss term as one tensor (mmseg may return lists of terms)."""
    if isinstance(value, (list, tuple)):
        return sum(v.mean() for v in value)
    return value.mean()
