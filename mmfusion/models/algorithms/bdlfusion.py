# Copyright (c) mmfusion contributors. All rights reserved.
from typing import Dict, Optional, Sequence, Union

import torch
from mmengine.dist import all_reduce
from mmengine.optim import AmpOptimWrapper, OptimWrapperDict
from torch import Tensor

from mmfusion.registry import MODELS
from mmfusion.structures import PhaseSpec
from ..utils.misc import prefix_log_vars as _prefixed
from ..utils.misc import seeded_generator, unwrap
from .fusion_model import ConfigType, FusionModel

AGGREGATIONS = ('mean', 'random', 'min_norm', 'normalized')


def aggregate_hypergradients(
        grads: Sequence[Tensor],
        mode: str = 'mean',
        generator: Optional[torch.Generator] = None) -> tuple:
    r"""Combine the followers' hypergradients into one update of the leader.

    Returns ``(g, weights)``. Modes (:math:`h_1, h_2` = discriminator,
    task):

    * ``'mean'`` (default; **what BDLFusion's released code computes**):
      :math:`g = \frac{1}{k}\sum_i h_i`. The released code draws
      ``w = softmax(randn(2))`` and writes ``g = (w_0 h_1 + w_1 h_2) / 2``
      (``architect_average2.py:67-73``), but both branches return the fusion
      net's ``.grad`` tensors themselves (``dalpha = [v.grad ...]``, lines 82
      and 121), which the second branch's ``backward`` (line 120) and
      in-place ``sub_`` (line 146) accumulate into: both "branch gradients"
      are :math:`h_1 + h_2`, so its update is
      :math:`(w_0 + w_1)(h_1 + h_2)/2 = (h_1 + h_2)/2` whatever the weights.
    * ``'random'``: the released code's random weights **as written**, with
      the two hypergradients kept apart: ``w = softmax(randn(k))``,
      :math:`g = \frac{1}{k}\sum_i w_i h_i` (``generator`` makes it
      reproducible and identical across DDP ranks). This is the paper's
      "dynamic weighted aggregation" as its authors coded it, not what their
      code computes.
    * ``'min_norm'``: mmfusion's own balancing rule (neither the paper's nor
      the code's): the minimum-norm point of the convex hull of the
      gradients (MGDA, Désidéri 2012; Sener & Koltun 2018). For two,
      :math:`\alpha^* = \mathrm{clip}(\langle h_2 - h_1, h_2\rangle /
      \lVert h_1 - h_2\rVert^2, 0, 1)`, :math:`g = \alpha^* h_1 +
      (1-\alpha^*) h_2`. Its directional derivative is the same for every
      follower whose weight is inside (0, 1) (:math:`\langle g, h_i\rangle =
      \lVert g\rVert^2`), and non-negative for all of them: a follower with
      a large gradient cannot drown the other, and no follower's objective
      is increased to first order.
    * ``'normalized'`` (mmfusion's): mean of the unit-norm gradients times
      their mean norm.
    """
    k = len(grads)
    if mode == 'random':
        w = torch.softmax(torch.randn(k, generator=generator), 0).to(grads[0])
        return sum(wi * g for wi, g in zip(w, grads)) / k, w
    if mode == 'mean':
        w = torch.full((k, ), 1.0 / k).to(grads[0])
        return sum(grads) / k, w
    if mode == 'normalized':
        norms = torch.stack([g.norm() for g in grads]).clamp_min(1e-12)
        w = norms.mean() / norms / k
        return sum(wi * g for wi, g in zip(w, grads)), w
    if mode == 'min_norm':
        if k != 2:
            raise NotImplementedError('min_norm aggregation is implemented '
                                      'for two followers')
        h1, h2 = grads
        diff = (h1 - h2).pow(2).sum()
        if diff <= 0:
            alpha = torch.tensor(0.5).to(h1)
        else:
            alpha = ((h2 - h1) * h2).sum().div(diff).clamp(0, 1)
        return alpha * h1 + (1 - alpha) * h2, torch.stack([alpha, 1 - alpha])
    raise ValueError(f'aggregation must be one of {AGGREGATIONS}, got '
                     f'{mode!r}')


def _flat(grads: Sequence[Optional[Tensor]],
          params: Sequence[Tensor]) -> Tensor:
    return torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1)
                      for g, p in zip(grads, params)])


@MODELS.register_module()
class BDLFusion(FusionModel):
    r"""Bi-level dynamic learning of fusion and a downstream task (Liu et al.,
    "Bi-level Dynamic Learning for Jointly Multi-modality Image Fusion and
    Beyond", IJCAI 2023).

    The fusion net :math:`\theta_F` is the leader (upper level); a pixel
    discriminator :math:`\theta_D` and the task model :math:`\theta_T` (any
    mmseg/mmdet model through :class:`TaskAdapter`) are followers (lower
    level). With :math:`P = m \odot IR + (1-m) \odot Y_{vis}` (saliency
    pseudo-target) and :math:`L_{enh}` the fusion loss (L1 + 1.1(1-SSIM) to
    :math:`P`):

    * :math:`L_{fus} = L_{enh} + 0.25(\bar D(F) - \bar D(P))` (discriminator
      follower), :math:`L_{fus}^{up} = L_{enh} - 0.5\,\bar D(F)` (leader's
      side), :math:`L_{task} = L_T(T(F)) - 0.01\,\bar D(F)`.

    ``'lower'`` phase (every iteration, train batch :math:`b`): one step of
    the discriminator on :math:`L_{fus}(b)` and of the task on
    :math:`L_{task}(b)`, with the fused image detached (the leader moves only
    by its hypergradient).

    ``'upper'`` phase (every ``k``-th iteration, published k = 10; batches
    ``[b, v]``, ``v`` from the upper-level split): for each follower
    :math:`(y, F_{up}, f_2) \in \{(\theta_D, L_{fus}, L_{fus}^{up}),
    (\theta_T, L_{task}, L_{task})\}` the first-order hypergradient

    .. math::
        h = \nabla_{\theta_F} F_{up}(v) + \eta\, c\, \nabla_{\theta_F}
        f_2(b), \qquad c = \frac{\langle \nabla_y F_{up}(v), \nabla_y
        F_{up}(b)\rangle}{\lVert \nabla_y F_{up}(b)\rVert^2}

    every gradient computed explicitly and independently (no stale or shared
    ``.grad`` buffers, unlike the released code: see docs/bdlfusion.md,
    "Differences from the official code"), all-reduced across DDP ranks;
    then :func:`aggregate_hypergradients` combines the two (default
    ``'mean'``: what the released code computes) and the leader's optimiser
    (published: SGD, wd 1e-3, lr :math:`\eta` = the task's current lr)
    applies it; then the lower step on :math:`b`.

    Each follower's update writes gradients into its own parameters only
    (the task objective's :math:`-0.01\,\bar D(F)` term reaches the
    discriminator's forward but not its ``.grad``), as the released loop,
    which zeroes each optimiser's gradients before its backward.

    The task input is the task adapter's ``input_format``; the released
    code's is ``'rgb_minmax'`` (the raw fused Y with the VIS chroma, clamped
    to [0, 1] and min-max stretched over the batch), which the published
    configs use. The fusion net's output is not clamped
    (``DRDBFusionNet(clamp_output=False)``, as published): the
    discriminator and :math:`L_{enh}` see the raw fused Y.

    Args:
        fusion_net / fusion_loss / task / data_preprocessor / colour /
            output_norm / predict_task / seed / ...: see
            :class:`FusionModel` (passed on as keywords; ``task``, a
            :class:`TaskAdapter` config, is required). ``fusion_loss`` must
            provide ``pseudo_target(ir, vis_y)``
            (:class:`SaliencyTargetLoss`); ``seed`` seeds the ``'random'``
            aggregation per iteration (identical on all ranks, reproducible
            on resume).
        discriminator: config of the pixel discriminator.
        adv_weights: weights of the three mean-logit terms.
        eta: :math:`\eta`; ``'task'`` ties it to the task optimiser's
            current lr (published), ``'discriminator'`` to the
            discriminator's (the published configs give both followers the
            same schedule), or a float.
        tie_upper_lr: also set the leader optimiser's lr to :math:`\eta`
            before its step (published).
        aggregation: see :func:`aggregate_hypergradients`; ``'mean'``
            (default) reproduces the released code's update, ``'random'``
            its random weights as written (the paper's dynamic weighting).
        task_driven: ``False`` makes the task-free twin of the task-gain
            experiment (issue 23): no task follower (``task=None``), so the
            leader learns from the discriminator follower's hypergradient
            alone (no aggregation) at the same iterations, and the lower
            step updates the discriminator only; ``eta`` cannot be
            ``'task'`` then.
    """

    requires_task = True
    PHASES = (
        PhaseSpec(
            'lower',
            batches=1,
            updates=('discriminator', 'task'),
            doc='one step of each follower on a train batch'),
        PhaseSpec(
            'upper',
            batches=2,
            updates=('fusion_net', 'discriminator', 'task'),
            doc='the leader on the aggregated hypergradients (train batch, '
            'upper batch), then the followers\' step'),
    )

    def __init__(self,
                 discriminator: ConfigType,
                 adv_weights: dict = dict(disc=0.25, fusion=0.5, task=0.01),
                 eta: Union[str, float] = 'task',
                 tie_upper_lr: bool = True,
                 aggregation: str = 'mean',
                 task_driven: bool = True,
                 **kwargs):
        if not task_driven:
            if kwargs.get('task') is not None:
                raise ValueError(
                    'a task-free BDLFusion (task_driven=False) has no task '
                    'follower: set model.task=None (and drop the task entry '
                    'of optim_wrapper)')
            if eta == 'task':
                raise ValueError(
                    "a task-free BDLFusion has no task optimiser to tie eta "
                    "to: set eta='discriminator' (the followers share one "
                    'schedule in the published configs) or a number')
            # (read by FusionModel.__init__: no task is needed)
            self.requires_task = False
        super().__init__(**kwargs)
        self.task_driven = task_driven
        if not hasattr(self.fusion_loss[0], 'pseudo_target'):
            raise TypeError('BDLFusion needs a fusion loss with a '
                            '`pseudo_target` (e.g. SaliencyTargetLoss)')
        if aggregation not in AGGREGATIONS:
            raise ValueError(f'aggregation must be one of {AGGREGATIONS}, '
                             f'got {aggregation!r}')
        if not (eta in ('task', 'discriminator')
                or isinstance(eta, (int, float))):
            raise ValueError(f"eta must be 'task', 'discriminator' or a "
                             f'number, got {eta!r}')
        self.discriminator = MODELS.build(discriminator)
        self.adv_weights = dict(adv_weights)
        self.eta = eta
        self.tie_upper_lr = tie_upper_lr
        self.aggregation = aggregation

    # ------------------------------------------------------------ objectives
    def _enh(self, fused: Tensor, x: Dict[str, Tensor]) -> Tensor:
        return self.parse_losses(self.compute_fusion_loss(fused, x))[0]

    def objective_fus(self,
                      fused: Tensor,
                      x: Dict[str, Tensor],
                      disc=None) -> Tensor:
        """:math:`L_{fus}` (the discriminator follower's objective)."""
        disc = disc or self.discriminator
        target = self.fusion_loss[0].pseudo_target(x['ir'], x['vis_y'])
        w = self.adv_weights['disc']
        return self._enh(fused, x) + w * (
            disc(fused).mean() - disc(target.detach()).mean())

    def objective_fus_up(self, fused: Tensor, x: Dict[str, Tensor]) -> Tensor:
        """:math:`L_{fus}^{up}` (the leader's side of the adversarial game)."""
        disc = unwrap(self.discriminator)
        return self._enh(fused, x) - \
            self.adv_weights['fusion'] * disc(fused).mean()

    def objective_task(self,
                       fused: Tensor,
                       x: Dict[str, Tensor],
                       samples,
                       task=None,
                       disc=None) -> tuple:
        """:math:`L_{task}`; returns (total, task log vars)."""
        task = task or self.task
        disc = disc or unwrap(self.discriminator)
        loss, log = self.parse_losses(
            task(fused, x['vis_cbcr'], samples, mode='loss'))
        return loss - self.adv_weights['task'] * disc(fused).mean(), log

    # ------------------------------------------------------------ steps
    def train_step(self, data,
                   optim_wrapper: OptimWrapperDict) -> Dict[str, Tensor]:
        if self.current_phase(data).name == 'upper':
            train = self.data_preprocessor(data[0], True)
            upper = self.data_preprocessor(data[1], True)
            log = self.upper_step(train, upper, optim_wrapper)
            log.update(self.lower_step(train, optim_wrapper))
        else:
            log = self.lower_step(
                self.data_preprocessor(data, True), optim_wrapper)
        return self.with_nonfinite_count(log)

    def lower_step(self, data: dict,
                   ow: OptimWrapperDict) -> Dict[str, Tensor]:
        """One step of each follower on a preprocessed train batch."""
        x, samples = data['inputs'], data['data_samples']
        # the fusion net's forward moves its running statistics: they belong
        # to the discriminator's update (put back if it is skipped)
        start = self.snapshot_buffers()
        with torch.no_grad():
            fused = unwrap(self.fusion_net)(x['ir'], x['vis_y'])
        disc_log = self.guarded_update(
            ow['discriminator'],
            lambda: dict(loss_fus=self.objective_fus(fused, x)),
            'discriminator',
            self.discriminator,
            since=start)
        if not self.task_driven:
            return _prefixed(disc=disc_log)
        task_log = {}

        def task_losses():
            task_loss, log = self.objective_task(fused, x, samples)
            task_log.update(log)
            return dict(loss_task=task_loss)

        # the task objective's -0.01 mean D(F) runs through the
        # discriminator: accumulate its gradient into the task's parameters
        # only (the released loop zeroes D's gradients before D's backward;
        # a gradient left in D's .grad would join D's next update)
        task_params = [p for p in self.task.parameters() if p.requires_grad]
        log = self.guarded_update(
            ow['task'],
            task_losses,
            'task',
            self.task,
            inputs=task_params or None)
        task_log.pop('loss', None)
        return _prefixed(disc=disc_log, task={**log, **task_log})

    def hypergradient(self, follower: str, train: dict, upper: dict) -> tuple:
        """First-order hypergradient of the leader through one follower
        (``'discriminator'`` or ``'task'``), as a flat vector over the
        fusion net's parameters, and the scalar :math:`c`."""
        fusion = unwrap(self.fusion_net)
        theta = [p for p in fusion.parameters() if p.requires_grad]
        y = [
            p for p in unwrap(getattr(self, follower)).parameters()
            if p.requires_grad
        ]
        disc = unwrap(self.discriminator)
        task = unwrap(self.task)

        def outer(batch):
            fused = fusion(batch['x']['ir'], batch['x']['vis_y'])
            if follower == 'discriminator':
                return self.objective_fus(fused, batch['x'], disc), fused
            return self.objective_task(fused, batch['x'], batch['samples'],
                                       task, disc)[0], fused

        def grads(loss, *param_lists, retain=False):
            """The flat gradients of ``loss`` w.r.t. each list of
            parameters, from one backward pass (the graph is walked once
            for all of them) and one all-reduce."""
            params = [p for ps in param_lists for p in ps]
            flat = _sync(
                _flat(
                    torch.autograd.grad(
                        loss, params, retain_graph=retain, allow_unused=True),
                    params))
            sizes = [sum(p.numel() for p in ps) for ps in param_lists]
            return flat.split(sizes)

        f_up_v, _ = outer(upper)
        g_theta, u = grads(f_up_v, theta, y)
        f_low_b, fused_b = outer(train)
        if follower == 'discriminator':
            q, = grads(f_low_b, y, retain=True)
            f2 = self.objective_fus_up(fused_b, train['x'])
            g_f2, = grads(f2, theta)
        else:  # f2 is f_low_b itself
            q, g_f2 = grads(f_low_b, y, theta)
        c = (u * q).sum() / (q * q).sum().clamp_min(1e-20)
        return g_theta + self._eta * c * g_f2, c

    def upper_step(self, train: dict, upper: dict,
                   ow: OptimWrapperDict) -> Dict[str, Tensor]:
        """The leader's hypergradient step from preprocessed train and upper
        batches."""
        train = dict(x=train['inputs'], samples=train['data_samples'])
        upper = dict(x=upper['inputs'], samples=upper['data_samples'])
        self._eta = ow[self.eta].get_lr()['lr'][0] \
            if isinstance(self.eta, str) else float(self.eta)
        guard = self.nonfinite_guard
        self._load_guard_state()
        guard.attempt('fusion hypergradient')
        # the hypergradients' autograd passes fill no .grad, but the
        # followers' and the leader's BN statistics move (the released
        # behaviour): put back if the update is skipped
        start = self.snapshot_buffers()
        # in fp32 (no autocast): the hypergradient is built from explicit
        # first-order gradients and their inner products (c), which an fp16
        # range would flush to zero or overflow without a loss scale
        h_d, c_d = self.hypergradient('discriminator', train, upper)
        if self.task_driven:
            h_t, c_t = self.hypergradient('task', train, upper)
            h, weights = aggregate_hypergradients([h_d, h_t], self.aggregation,
                                                  seeded_generator(self.seed))
            log = dict(
                c_disc=c_d.detach(),
                c_task=c_t.detach(),
                w_disc=weights[0].detach(),
                w_task=weights[1].detach(),
                grad_norm=h.norm().detach())
        else:  # the discriminator follower's hypergradient alone
            h = h_d
            log = dict(c_disc=c_d.detach(), grad_norm=h.norm().detach())
        if not guard.ok('fusion hypergradient', [h] + start.new_values(),
                        'hypergradient or running statistic'):
            start.restore()
            return _prefixed(upper=log)
        fusion_ow = ow['fusion_net']
        if self.tie_upper_lr:
            for group in fusion_ow.param_groups:
                group['lr'] = self._eta
        params = [
            p for p in unwrap(self.fusion_net).parameters() if p.requires_grad
        ]
        before = [p.detach().clone() for p in params]
        offset = 0
        for p in params:
            n = p.numel()
            p.grad = h[offset:offset + n].view_as(p).clone()
            offset += n
        if isinstance(fusion_ow, AmpOptimWrapper):
            # h is an unscaled fp32 gradient: the loss scaler's step would
            # divide it by the scale
            if fusion_ow.clip_grad_kwargs:
                fusion_ow._clip_grad()
            fusion_ow.optimizer.step()
        else:
            fusion_ow.step()
        fusion_ow.zero_grad()
        guard.taken('fusion hypergradient')
        if not guard._all_finite(params):
            with torch.no_grad():  # leave the model as it was, finite
                for p, p0 in zip(params, before):
                    p.copy_(p0)
            raise FloatingPointError(
                'the fusion net\'s hypergradient step turned a finite '
                f'hypergradient into non-finite weights (lr {self._eta:g}): '
                'stopping before they reach a checkpoint. Lower the '
                'learning rate.')
        return _prefixed(upper=log)


def _sync(vec: Tensor) -> Tensor:
    """Mean over DDP ranks (gradients from ``autograd.grad`` bypass DDP's
    reducer); identity when not distributed."""
    all_reduce(vec, op='mean')
    return vec
