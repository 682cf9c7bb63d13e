# Copyright (c) mmfusion contributors. All rights reserved.
import copy
import itertools
import logging
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
from mmengine.logging import print_log
from mmengine.optim import OptimWrapperDict
from torch import Tensor
from torch.func import functional_call, jvp

from mmfusion.registry import MODELS
from mmfusion.structures import PhaseSpec
from ..utils.misc import prefix_log_vars as _prefixed
from ..utils.misc import seeded_generator, unwrap
from ..utils.views import random_crop_batch, resize_batch, swap_modalities
from .fusion_model import ConfigType, FusionModel


@MODELS.register_module()
class TDFusion(FusionModel):
    r"""Task-driven fusion with a meta-learned fusion loss (Bai et al.,
    "Task-driven Image Fusion with Learnable Fusion Loss", CVPR 2025).

    Three networks: the fusion net :math:`F_\theta`, the loss generator
    :math:`G_\phi` whose per-pixel weights parameterise the fusion loss
    :math:`L_f(F, w)`, and the task model :math:`T` (any mmseg/mmdet model
    through :class:`TaskAdapter`). Training alternates two phases, scheduled
    by :class:`PhasedTrainLoop` (the current phase is read from the message
    hub):

    ``'meta'`` (two batches: inner ``b1``, outer ``b2``)
        1. virtual step: :math:`\theta' = \theta - \alpha \nabla_\theta
           L_f(F_\theta(x_1), G_\phi(x_1))`, built with ``create_graph`` so
           :math:`\theta'` is differentiable in :math:`\phi`
           (``torch.func.functional_call``; :math:`\theta` is not changed);
        2. the task takes one real step on :math:`T(F_\theta(x_1))`
           (detached), after a snapshot of its weights;
        3. outer loss :math:`L_t(T(F_{\theta'}(x_2)), y_2)` on the *other*
           batch; its gradient reaches :math:`\phi` only through the mixed
           second derivative :math:`\partial^2 L_f / \partial\theta
           \partial\phi`; the loss generator's optimiser applies it
           (published: :class:`MaxAbsNormSGD` with the fusion lr);
        4. the task is restored from the snapshot.

        Only the loss generator's hypergradient is computed: no weight
        gradient of the task or of the fusion net (see ``hypergrad`` for
        how).
    ``'fusion'`` (one batch)
        the fusion net takes a step on :math:`L_f(F_\theta(x), G_\phi(x))`
        (weights detached), then the task on :math:`T(F_\theta(x))`
        (detached: the fusion net learns from the task only through the
        learned loss).

    The fusion loss sees random crops of the full-resolution pair
    (``fusion_crop_size``; one window per pair, shared by its
    modality-swapped copy), the task the whole pair resized to
    ``task_input_size``, as published; the task's targets follow
    (:mod:`mmfusion.models.utils.views`): boxes of any type, instance
    masks, ``ignored_instances`` and the metainfo are scaled to the task
    view, an mmseg task's label maps stay at full resolution
    (``task_labels``). See :meth:`views` for forcing the crop windows.

    Args:
        fusion_net / fusion_loss / task / data_preprocessor / colour /
            output_norm / predict_task / seed / ...: see
            :class:`FusionModel` (passed on as keywords; ``task``, a
            :class:`TaskAdapter` config, is required). ``fusion_loss``
            receives the loss generator's weights as ``pixel_weights``;
            ``seed`` is the base of the crop generator (crops depend on
            (seed, iteration) only, so resumed runs crop exactly as
            uninterrupted ones).
        loss_generator: config of the loss generator (``forward(ir, vis_y)``
            -> ``(N, 2, H, W)`` weights).
        inner_lr: :math:`\alpha`; ``'fusion'`` ties it to the fusion
            optimiser's current lr (published), or a float.
        outer_lr: ``'fusion'`` sets the loss generator optimiser's lr to the
            fusion optimiser's current lr before each outer step
            (published); ``None`` leaves it to its own config/schedulers.
        second_order: build the virtual step with ``create_graph=True``.
            ``False`` detaches the inner gradient, which cuts the only path
            from the task loss to the loss generator (for ablations/tests).
        restore_task: snapshot and restore the task around the meta step
            (published). ``restore_task_optimizer`` also restores its
            optimiser state (the released code does not).
        swap_modalities: append every batch with IR and VIS-Y exchanged
            (the released code's "switch" augmentation); the swapped copy
            of a pair is cropped at the pair's window.
        fusion_crop_size: ``(h, w)`` crops for the fusion loss, or ``None``.
        task_input_size: ``(h, w)`` the task sees, or ``None`` (as loaded).
        task_labels: ``'full'`` (default, published): an mmseg task's label
            maps (``gt_sem_seg``, ``gt_edge_map``, ...) keep the batch's
            full resolution and its heads resize their logits to them
            (bilinear, the head's ``align_corners``), as the released code
            upsamples its logits to the full-resolution label. ``'view'``:
            the maps are resized (nearest) to the task view (mmfusion
            before issue 22). Detector targets always follow the view
            (boxes scaled exactly).
        task_padding: what happens when the task's data preprocessor pads
            its input to a multiple (mmseg ``size_divisor``, mmdet
            ``pad_size_divisor``): ``'resize'`` (default) makes the task
            view that multiple (e.g. 240x320 -> 256x320 for 32), so no
            pixel is padded; ``'preprocessor'`` leaves the view at
            ``task_input_size`` and the preprocessor pads it (with its
            ``pad_val``, grey after normalisation; mmseg's padded label
            pixels are 255 and still count in a plain CE mean): mmfusion's
            behaviour before issue 22. The published configs set
            ``size_divisor=1`` for their segmentors, which need no multiple.
        hypergrad: how the loss generator's hypergradient is computed; the
            same derivative every way (tested against each other):

            * ``'jvp'`` (default): the virtual step is first order (no
              graph through the fusion net is kept), the outer gradient
              :math:`u = \nabla_{\theta'} L_t` is a plain first-order one
              (no task or fusion weight gradient is computed), and the
              mixed second derivative is applied to it as
              :math:`-\alpha\nabla_\phi\langle\partial_F L_f, J_F u
              \rangle` with one forward-mode pass through the fusion net
              (:meth:`jvp_surrogate`). Needs forward-mode AD support in the
              fusion net (ReFusion has it).
            * ``'double_backward'``: back-propagate the outer loss through
              the virtual step's ``create_graph`` graph, into the loss
              generator's parameters only (``backward(inputs=...)``).
            * ``'full_backward'``: the pre-issue-15 path, a plain
              ``backward`` of the same composition into every parameter
              (the task's and the fusion net's gradients computed,
              all-reduced and then discarded); kept as the baseline of
              ``benchmark_meta_step.py --compare-baseline``.

        task_driven: ``False`` makes the task-free twin of the task-gain
            experiment (issue 23): no task (``task=None``), no meta step
            and no task update; the ``'meta'`` phase's iterations are kept
            in the schedule as idle steps (they draw their two batches and
            compute nothing), so the fusion steps see the method's batches
            in the method's order and every iteration-based schedule (lr
            milestones, checkpoints) is the method's. With
            :class:`ConstantLossGenerator` as ``loss_generator`` the fusion
            net then trains on the same loss with fixed weights.
        recompute_generator: with ``hypergrad='jvp'``, keep no graph of the
            loss generator from the virtual step and run it again (with its
            graph) for the hypergradient: less peak memory for one more
            forward of the loss generator at crop size (measured in
            docs/tdfusion.md: 0.43x instead of 0.55x the old path's peak,
            +3 % time). The same values only if the loss generator's
            forward is deterministic and moves no buffers (no BatchNorm,
            dropout, ...): ``'auto'`` (default) recomputes exactly then
            (``TDFusionLossGenerator``: yes), ``True`` raises otherwise.

            In every mode the loss generator's gradient is all-reduced by
            its DDP reducer. ``second_order=False`` always takes the
            ``'double_backward'`` path (the hypergradient is then zero).
    """

    HYPERGRAD_MODES = ('jvp', 'double_backward', 'full_backward')

    requires_task = True
    PHASES = (
        PhaseSpec(
            'meta',
            batches=2,
            updates=('loss_generator', 'task'),
            doc='meta step of the loss generator through a virtual step of '
            'the fusion net (inner and outer batch); the task takes its '
            'temporary step'),
        PhaseSpec(
            'fusion',
            batches=1,
            updates=('fusion_net', 'task'),
            doc='the fusion net on the generated loss, the task on the fused '
            'images'),
    )

    def __init__(self,
                 loss_generator: ConfigType,
                 inner_lr: Union[str, float] = 'fusion',
                 outer_lr: Optional[str] = 'fusion',
                 second_order: bool = True,
                 restore_task: bool = True,
                 restore_task_optimizer: bool = False,
                 swap_modalities: bool = False,
                 fusion_crop_size: Optional[Tuple[int, int]] = (256, 256),
                 task_input_size: Optional[Tuple[int, int]] = (240, 320),
                 hypergrad: str = 'jvp',
                 recompute_generator: Union[bool, str] = 'auto',
                 task_labels: str = 'full',
                 task_padding: str = 'resize',
                 task_driven: bool = True,
                 **kwargs):
        if not task_driven:
            if kwargs.get('task') is not None:
                raise ValueError(
                    'a task-free TDFusion (task_driven=False) has no in-loop '
                    'task: set model.task=None (and drop the task and loss '
                    'generator entries of optim_wrapper)')
            # (read by FusionModel.__init__: no task is needed)
            self.requires_task = False
        super().__init__(**kwargs)
        self.task_driven = task_driven
        if task_labels not in ('full', 'view'):
            raise ValueError(f"task_labels must be 'full' or 'view', got "
                             f'{task_labels!r}')
        if task_padding not in ('resize', 'preprocessor'):
            raise ValueError(f"task_padding must be 'resize' or "
                             f"'preprocessor', got {task_padding!r}")
        self.task_labels = task_labels
        self.task_padding = task_padding
        self._warned_padded_labels = False
        self.loss_generator = MODELS.build(loss_generator)
        if not (inner_lr == 'fusion' or isinstance(inner_lr, (int, float))):
            raise ValueError(f"inner_lr must be 'fusion' or a number, got "
                             f'{inner_lr!r}')
        if outer_lr not in ('fusion', None):
            raise ValueError(f"outer_lr must be 'fusion' or None, got "
                             f'{outer_lr!r}')
        if hypergrad not in self.HYPERGRAD_MODES:
            raise ValueError(f'hypergrad must be one of '
                             f'{self.HYPERGRAD_MODES}, got {hypergrad!r}')
        self.hypergrad = hypergrad
        if recompute_generator == 'auto':
            recompute_generator = _recomputable(self.loss_generator) is None
        elif recompute_generator:
            problem = _recomputable(self.loss_generator)
            if problem is not None:
                raise ValueError(
                    'recompute_generator=True runs the loss generator twice '
                    'per meta step, which is exact only for a deterministic, '
                    f'buffer-free forward; {problem}')
        self.recompute_generator = bool(recompute_generator)
        # benchmark_meta_step.py's per-phase timer: called with the name of
        # the phase that begins (None: the step ended); None in training
        self.phase_timer = None
        self.inner_lr = inner_lr
        self.outer_lr = outer_lr
        self.second_order = second_order
        self.restore_task = restore_task
        self.restore_task_optimizer = restore_task_optimizer
        self.swap_modalities = swap_modalities
        self.fusion_crop_size = fusion_crop_size
        self.task_input_size = task_input_size

    # ------------------------------------------------------------ views
    def _generator(self) -> torch.Generator:
        return seeded_generator(self.seed)

    def views(self,
              data: dict,
              generator: Optional[torch.Generator] = None,
              windows: Optional[Sequence[Sequence[int]]] = None,
              with_crop: bool = True,
              with_task: bool = True):
        """Preprocess a batch into the fusion-loss view (crops) and the task
        view (resized, targets following), as the training steps see them.

        The crop windows are drawn per *pair*, before the modality swap, so
        a pair's swapped copy is cropped at the same window (as the
        released code): from ``generator`` (default: the one of the current
        iteration, seeded by (seed, iteration)), or given as ``windows``,
        one ``(top, left)`` or ``(top, left, h, w)`` per pair in the
        preprocessed (padded) batch's pixels — e.g. the released code's
        ``(h, w)`` offsets, to reproduce its crops. ``with_crop=False``:
        no crop (``None``) and no random number drawn (the meta step's outer
        batch). Returns ``(crop, task_inputs, task_samples)``; the task view
        is :meth:`task_view`'s (``with_task=False``: ``None, None``, not
        computed).
        """
        data = self.data_preprocessor(data, True)
        inputs, samples = data['inputs'], data['data_samples']
        crop = None
        if with_crop:
            if generator is None and windows is None:
                generator = self._generator()
            crop = inputs if self.fusion_crop_size is None else \
                random_crop_batch(inputs, self.fusion_crop_size, generator,
                                  samples, windows=windows)
        task_inputs = task_samples = None
        if with_task:
            task_inputs, task_samples = self.task_view(inputs, samples)
        if self.swap_modalities:
            if crop is not None:
                crop, _ = swap_modalities(crop)
            if with_task:
                task_inputs, task_samples = swap_modalities(
                    task_inputs, task_samples)
        return crop, task_inputs, task_samples

    # the name used before issue 22
    _views = views

    def task_view_size(self, shape: Tuple[int, int]) -> Tuple[int, int]:
        """The ``(h, w)`` the task sees for a preprocessed batch of
        ``shape``: ``task_input_size`` (or the batch's own size), with
        ``task_padding='resize'`` made a multiple of the size divisor the
        task's data preprocessor pads to (so that it pads nothing)."""
        h, w = self.task_input_size or tuple(shape)
        divisor, fixed = _task_padding_rule(self.task)
        if self.task_padding == 'resize' and fixed is None and divisor > 1:
            h = -(-h // divisor) * divisor
            w = -(-w // divisor) * divisor
        return int(h), int(w)

    def task_view(self, inputs: Dict[str, Tensor],
                  samples: Sequence) -> Tuple[Dict[str, Tensor], list]:
        """The task's view of a preprocessed batch: resized (bilinear) to
        :meth:`task_view_size`, the targets following
        (:func:`~mmfusion.models.utils.views.resize_batch`). With
        ``task_labels='full'`` an mmseg task's label maps stay at the
        batch's resolution (its heads resize their logits to them, as the
        released code upsamples its logits to the full-resolution label),
        unless the task's preprocessor pads this view (then they would no
        longer align: resized to the view, with a warning)."""
        shape = tuple(next(iter(inputs.values())).shape[-2:])
        size = self.task_view_size(shape)
        full = self.task_labels == 'full' and _task_package(
            self.task) == 'mmseg'
        if full and _task_pads(self.task, size):
            full = False
            if not self._warned_padded_labels:
                self._warned_padded_labels = True
                print_log(
                    f'TDFusion: the task\'s data preprocessor pads its '
                    f'{size[0]}x{size[1]} input (size / size_divisor), '
                    'so the label maps are resized to the task view instead '
                    "of kept at full resolution (task_labels='full'); set "
                    "the task's size_divisor=1 (or task_padding='resize') "
                    'for full-resolution labels',
                    logger='current',
                    level=logging.WARNING)
        if size == shape:
            return inputs, list(samples)
        return resize_batch(inputs, samples, size, pixel_maps=not full)

    def task_loss(self,
                  fused_y: Tensor,
                  inputs: Dict[str, Tensor],
                  samples: Sequence,
                  task: Optional[torch.nn.Module] = None) -> dict:
        """The task's losses on the fused Y (``task``: the task module to
        run, default ``self.task``, i.e. through its DDP wrapper)."""
        task = self.task if task is None else task
        return task(fused_y, inputs['vis_cbcr'], samples, mode='loss')

    # ------------------------------------------------------------ steps
    def train_step(self, data,
                   optim_wrapper: OptimWrapperDict) -> Dict[str, Tensor]:
        phase = self.current_phase(data).name
        if phase == 'meta' and not self.task_driven:
            log_vars = {}  # the task-free twin: an idle step
        elif phase == 'meta':
            log_vars = self.meta_step(data[0], data[1], optim_wrapper)
        else:
            log_vars = self.fusion_task_step(data, optim_wrapper)
        return self.with_nonfinite_count(log_vars)

    def fusion_task_step(
            self,
            data: dict,
            ow: OptimWrapperDict,
            windows: Optional[Sequence] = None) -> Dict[str, Tensor]:
        """The ``'fusion'`` phase's step (``windows``: see :meth:`views`);
        without the task update when not ``task_driven``."""
        self._phase('views')
        crop, task_inputs, task_samples = self.views(
            data, windows=windows, with_task=self.task_driven)

        def fusion_losses():
            with torch.no_grad():
                weights = unwrap(self.loss_generator)(crop['ir'],
                                                      crop['vis_y'])
            fused = self.fusion_net(crop['ir'], crop['vis_y'])
            return self.compute_fusion_loss(fused, crop, pixel_weights=weights)

        def task_losses():
            with torch.no_grad():
                fused_task = unwrap(self.fusion_net)(task_inputs['ir'],
                                                     task_inputs['vis_y'])
            return self.task_loss(fused_task, task_inputs, task_samples)

        self._phase('fusion update')
        log = self.guarded_update(ow['fusion_net'], fusion_losses, 'fusion',
                                  self.fusion_net)
        if not self.task_driven:
            self._phase(None)
            return _prefixed(fusion=log)
        self._phase('task update')
        task_log = self.guarded_update(ow['task'], task_losses, 'task',
                                       self.task)
        self._phase(None)
        return _prefixed(fusion=log, task=task_log)

    def virtual_step(self,
                     crop: Dict[str, Tensor],
                     alpha: float,
                     first_order: bool = False):
        """Fast weights :math:`\\theta' = \\theta - \\alpha \\nabla_\\theta
        L_f` (differentiable in the loss generator's parameters when
        ``second_order``), and the inner loss for the log.

        ``first_order=True`` (the ``'jvp'`` hypergradient): the inner
        gradient is taken without a graph and the fast weights are detached
        leaves; also returns ``(weights, fused)``, the loss generator's
        output (with its graph, unless ``recompute_generator``) and the
        fused crops (detached), which :meth:`jvp_surrogate` needs.
        """
        fusion = unwrap(self.fusion_net)
        params = {
            k: p
            for k, p in fusion.named_parameters() if p.requires_grad
        }
        if first_order and self.recompute_generator:
            # values only: jvp_surrogate runs it again, with its graph
            with torch.no_grad():
                weights = unwrap(self.loss_generator)(crop['ir'],
                                                      crop['vis_y'])
        else:
            # through the DDP wrapper: the backward into the loss generator
            # all-reduces its grads
            weights = self.loss_generator(crop['ir'], crop['vis_y'])
        fused = functional_call(fusion, params, (crop['ir'], crop['vis_y']))
        inner_losses = self.compute_fusion_loss(
            fused, crop, pixel_weights=weights)
        inner, inner_log = self.parse_losses(inner_losses)
        # mean weight the generated loss gives the IR image: shows the loss
        # generator learning in the log
        inner_log['w_ir'] = self.ir_weight(weights)
        # (first order: only the fusion net's part of the graph is visited
        # and freed; the loss generator's stays for the hypergradient)
        grads = torch.autograd.grad(
            inner,
            list(params.values()),
            create_graph=self.second_order and not first_order,
            allow_unused=True)
        fast = {
            k: p if g is None else p - alpha * g
            for (k, p), g in zip(params.items(), grads)
        }
        if not first_order:
            return fast, inner_log
        fast = {k: v.detach().requires_grad_() for k, v in fast.items()}
        return fast, inner_log, (weights, fused.detach())

    def ir_weight(self, weights: Tensor) -> Tensor:
        """The mean weight that the generated loss gives the IR image
        (detached): channel 0 of ``weights`` (the loss generator's first
        input) for the pairs as loaded and, with ``swap_modalities``,
        channel 1 for their swapped copies (the second half of the batch,
        whose first input is the VIS-Y)."""
        weights = weights.detach()
        if not self.swap_modalities:
            return weights[:, 0].mean()
        n = weights.shape[0] // 2
        return torch.cat([weights[:n, 0], weights[n:, 1]]).mean()

    def jvp_surrogate(self, crop: Dict[str,
                                       Tensor], weights: Tensor, fused: Tensor,
                      outer_grads: Dict[str, Tensor], alpha: float) -> Tensor:
        r"""A scalar whose gradient w.r.t. the loss generator's parameters
        is the hypergradient :math:`dL_t(\theta')/d\phi`.

        With :math:`\theta' = \theta - \alpha \nabla_\theta L_f(F_\theta
        (x_1), G_\phi(x_1))` and :math:`u = \nabla_{\theta'} L_t` (the
        outer gradient, ``outer_grads``), the chain rule gives
        :math:`-\alpha \nabla_\phi \langle \nabla_\theta L_f, u\rangle
        = -\alpha \nabla_\phi \langle \partial_F L_f(F, G_\phi), v
        \rangle` with :math:`v = J_{F}(\theta)\,u`, the derivative of the
        fused crops along :math:`u` in parameter space, which does not
        depend on :math:`\phi`. ``v`` is one forward-mode pass through the
        fusion net (``torch.func.jvp``, no graph); what remains to
        differentiate twice is the fusion loss alone. The same derivative
        as back-propagating through the virtual step's double-backward
        graph (tested), without that graph. With ``recompute_generator``
        the loss generator is run again here (``weights`` are then values
        only).
        """
        fusion = unwrap(self.fusion_net)
        params = {
            k: p.detach()
            for k, p in fusion.named_parameters() if p.requires_grad
        }
        tangents = {
            k:
            torch.zeros_like(p)
            if outer_grads.get(k) is None else outer_grads[k]
            for k, p in params.items()
        }
        with torch.no_grad():
            _, v = jvp(
                lambda p: functional_call(fusion, p,
                                          (crop['ir'], crop['vis_y'])),
                (params, ), (tangents, ))
        if self.recompute_generator:
            # through the DDP wrapper: the backward into the loss generator
            # all-reduces its grads
            weights = self.loss_generator(crop['ir'], crop['vis_y'])
        fused = fused.detach().requires_grad_()
        inner, _ = self.parse_losses(
            self.compute_fusion_loss(fused, crop, pixel_weights=weights))
        d_fused, = torch.autograd.grad(inner, fused, create_graph=True)
        return -alpha * (d_fused * v).sum()

    def _phase(self, name: Optional[str]) -> None:
        """Tell the benchmark's timer that phase ``name`` begins (``None``:
        the step ended); a no-op in training."""
        if self.phase_timer is not None:
            self.phase_timer(name)

    def meta_step(self,
                  inner_batch: dict,
                  outer_batch: dict,
                  ow: OptimWrapperDict,
                  windows: Optional[Sequence] = None) -> Dict[str, Tensor]:
        """The ``'meta'`` phase's step; the inner batch is cropped
        (``windows``: see :meth:`views`), the outer one only resized for the
        task (as the released code)."""
        self._phase('views')
        crop, task_in1, task_s1 = self.views(inner_batch, windows=windows)
        _, task_in2, task_s2 = self.views(outer_batch, with_crop=False)
        fusion_lr = ow['fusion_net'].get_lr()['lr'][0]
        alpha = fusion_lr if self.inner_lr == 'fusion' else self.inner_lr
        mode = self.hypergrad if self.second_order else 'double_backward'

        # the buffers the virtual step moves (the fusion net's and the loss
        # generator's running statistics): put back if the meta step's
        # outer update is skipped (the task has its own snapshot and
        # restore)
        start = self.snapshot_buffers(exclude=('task', ))
        # the meta step is kept in fp32 (no autocast around the virtual
        # step, its double backward and the outer loss): see docs/tdfusion.md
        self._phase('virtual step')
        weights = fused1 = None
        if mode == 'jvp':
            fast, inner_log, (weights, fused1) = self.virtual_step(
                crop, alpha, first_order=True)
        else:
            fast, inner_log = self.virtual_step(crop, alpha)

        self._phase('task step')
        task_state = optim_state = None
        if self.restore_task:
            task_state = _snapshot_tensors(unwrap(self.task))
            if self.restore_task_optimizer:
                optim_state = copy.deepcopy(ow['task'].state_dict())

        def task_losses():
            with torch.no_grad():
                fused = unwrap(self.fusion_net)(task_in1['ir'],
                                                task_in1['vis_y'])
            return self.task_loss(fused, task_in1, task_s1)

        # the temporary task step: an ordinary first-order step (under the
        # task's AMP autocast when enabled)
        task_log = self.guarded_update(ow['task'], task_losses, 'task',
                                       self.task)

        def outer_losses():
            self._phase('outer forward')
            fused2 = functional_call(
                unwrap(self.fusion_net), fast,
                (task_in2['ir'], task_in2['vis_y']))
            # full backward: through the task's DDP wrapper, which
            # all-reduces the task's (discarded) gradients as well; else no
            # task gradient is taken and no reducer is involved
            losses = self.task_loss(
                fused2, task_in2, task_s2,
                self.task if mode == 'full_backward' else unwrap(self.task))
            self._phase('outer backward')
            return losses

        def jvp_target(loss):
            # u = grad of the outer loss at theta' (frees the outer graph),
            # then the surrogate of the hypergradient
            names = list(fast)
            grads = torch.autograd.grad(
                loss, [fast[k] for k in names], allow_unused=True)
            self._phase('hypergradient')
            return self.jvp_surrogate(crop, weights, fused1,
                                      dict(zip(names, grads)), alpha)

        if self.outer_lr == 'fusion':
            for group in ow['loss_generator'].param_groups:
                group['lr'] = fusion_lr
        # the hypergradient alone: back-propagated into the loss generator's
        # parameters only (its DDP reducer all-reduces it as their gradient
        # accumulators fire)
        generator_params = None if mode == 'full_backward' else [
            p for group in ow['loss_generator'].param_groups
            for p in group['params'] if p.requires_grad
        ]
        outer_log = self.guarded_update(
            ow['loss_generator'],
            outer_losses,
            'loss generator',
            since=start,
            autocast=False,
            inputs=generator_params,
            backward_target=jvp_target if mode == 'jvp' else None)
        # the last references into the virtual step's graph
        fast = weights = None
        self._phase('restore')
        if mode == 'full_backward':
            # the outer backward also reached the fusion net (through
            # theta') and the task: those gradients are not for them
            ow['fusion_net'].zero_grad()
            ow['task'].zero_grad()
        if task_state is not None:
            _restore_tensors(unwrap(self.task), task_state)
            if optim_state is not None:
                ow['task'].load_state_dict(optim_state)
        self._phase(None)
        return _prefixed(meta_inner=inner_log, task=task_log, meta=outer_log)


def _snapshot_tensors(module: torch.nn.Module) -> Dict[str, Tensor]:
    """Copies of every parameter and buffer of ``module`` (an aliased tensor
    once)."""
    return {
        name: t.detach().clone()
        for name, t in itertools.chain(module.named_parameters(),
                                       module.named_buffers())
    }


def _restore_tensors(module: torch.nn.Module, snapshot: Dict[str,
                                                             Tensor]) -> None:
    """Copy a :func:`_snapshot_tensors` back in place. By tensor, not through
    ``load_state_dict``: a model may register aliases of its own modules in
    its first training forward (mmdet's DDQ-DETR sets
    ``decoder.aux_reg_branches = bbox_head.aux_reg_branches``), which a
    state dict taken before it lacks; the aliased tensors are restored under
    their first names."""
    current = dict(
        itertools.chain(
            module.named_parameters(remove_duplicate=False),
            module.named_buffers(remove_duplicate=False)))
    with torch.no_grad():
        for name, value in snapshot.items():
            current[name].copy_(value)


def _recomputable(module: torch.nn.Module) -> Optional[str]:
    """``None`` if running ``module`` twice gives the same values and state
    (no buffers, i.e. running statistics, and no layer that draws random
    numbers in training), else what prevents it."""
    from torch.nn.modules.dropout import _DropoutNd
    buffers = [name for name, _ in module.named_buffers()]
    random = [
        name for name, m in module.named_modules()
        if isinstance(m, _DropoutNd) or type(m).__name__ in ('DropPath',
                                                             'Dropout')
    ]
    if buffers or random:
        return (f'{type(module).__name__} has buffers {buffers[:3]} / '
                f'random layers {random[:3]}')
    return None


def _task_model(task: torch.nn.Module):
    """The mmseg/mmdet model inside a (DDP-wrapped) :class:`TaskAdapter`,
    or ``None``."""
    return getattr(unwrap(task), 'model', None)


def _task_package(task: torch.nn.Module) -> Optional[str]:
    model = _task_model(task)
    return None if model is None else type(model).__module__.split('.')[0]


def _task_padding_rule(task: torch.nn.Module) -> Tuple[int, Optional[tuple]]:
    """``(size_divisor, fixed size)`` the task's data preprocessor pads its
    training batches to: mmseg's ``size_divisor`` / ``size``, mmdet's (and
    mmengine's) ``pad_size_divisor``; ``(1, None)`` if it pads nothing."""
    dp = getattr(_task_model(task), 'data_preprocessor', None)
    size = getattr(dp, 'size', None)
    divisor = getattr(dp, 'size_divisor', None) or getattr(
        dp, 'pad_size_divisor', None) or 1
    return int(divisor), (tuple(size) if size is not None else None)


def _task_pads(task: torch.nn.Module, shape: Tuple[int, int]) -> bool:
    """Whether the task's data preprocessor pads a training batch of
    ``shape``."""
    divisor, fixed = _task_padding_rule(task)
    if fixed is not None:
        return tuple(shape) != tuple(fixed)[-2:]
    return any(s % divisor for s in shape)
