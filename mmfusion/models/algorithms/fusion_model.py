# Copyright (c) mmfusion contributors. All rights reserved.
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.config import ConfigDict
from mmengine.logging import MessageHub
from mmengine.model import BaseModel
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmengine.structures import PixelData
from torch import Tensor

from mmfusion.registry import MODELS
from mmfusion.structures import FusionDataSample
from mmfusion.structures.phases import Phase, PhaseSpec, current_phase, spec_of
from mmfusion.utils import normalize_output, restore_colour
from mmfusion.utils.colour import COLOUR_POLICIES
from ..utils.misc import unwrap
from ..utils.nonfinite import BufferSnapshot, NonFiniteGuard

ConfigType = Union[dict, ConfigDict]


def _scales_loss(optim_wrapper: OptimWrapper) -> bool:
    """Whether the wrapper's GradScaler checks the gradients (fp16 AMP);
    bfloat16 on the CPU has none."""
    scaler = getattr(optim_wrapper, 'loss_scaler', None)
    return isinstance(optim_wrapper, AmpOptimWrapper) and \
        scaler is not None and scaler.is_enabled()


@MODELS.register_module()
class FusionModel(BaseModel):
    """A fusion network trained on a (fixed) fusion loss.

    This is the plain, task-free algorithm: ``loss = sum(fusion_loss(F(ir,
    vis_y), ir, vis_y))``. Task-driven algorithms build on it.

    Args:
        fusion_net: config of the fusion network (``forward(ir, vis_y)``
            -> fused Y in [0, 1]).
        fusion_loss: config of the fusion loss, or a list of them; each
            returns a dict of named, weighted loss terms.
        data_preprocessor: defaults to :class:`FusionDataPreprocessor`.
        colour: how the fused Y gets its chroma back: ``'vis'`` (VIS CbCr, as
            SeAFusion/BDLFusion), ``'saturation'`` (TDFusion's
            saturation-weighted chroma of both inputs; equals ``'vis'``
            unless the inputs carry an RGB IR's ``ir_cbcr``) or ``'gray'``
            (no chroma). See :func:`mmfusion.utils.restore_colour`.
        output_norm: ``'clip'`` or ``'minmax'`` (per image), applied to the
            colour result (see :func:`mmfusion.utils.normalize_output`).
        max_consecutive_nonfinite: a non-finite loss, gradient or running
            statistic skips the update, leaving every parameter and buffer
            as it was (counted in the log as ``nonfinite_skipped``); this
            many in a row stop training with an error.
        nonfinite_budget: the largest fraction of an update's attempts
            (``'fusion'``, ``'task'``, ...) that may be skipped: more stop
            training with an error, checked at every skip once the update
            was attempted 100 times and at the last iteration whatever the
            count (a run that skipped every step does not end as if it had
            trained). ``None`` turns the budget off.
        task: config of a :class:`TaskAdapter` (task-driven algorithms;
            required by those that set ``requires_task``).
        predict_task: with a ``task``, also run it on the fused images in
            ``predict`` (for task metrics such as ``mmseg.IoUMetric`` in
            validation).
        seed: base of the algorithm's private random streams (crops, jitter,
            re-initialisation, aggregation draws), which depend on (seed,
            iteration or round) only, so resumed runs draw exactly as
            uninterrupted ones (:func:`~mmfusion.models.utils.misc.
            seeded_generator`).
        init_cfg: mmengine init config.

    Subclasses take their own arguments and pass every other one (those
    above) on as keywords; a task-driven subclass sets ``requires_task``.
    A strategy that alternates kinds of steps declares them in ``PHASES``
    (see :mod:`mmfusion.structures.phases`); ``PhasedTrainLoop`` checks its
    configured phases against the declaration, and ``train_step`` learns
    the running one from :meth:`current_phase`.
    """

    #: building the algorithm without a ``task`` is an error
    requires_task: bool = False
    #: the phases of a phased strategy (``None``: one kind of step, any
    #: loop). One :class:`~mmfusion.structures.PhaseSpec` per phase: its
    #: name, the batches one step takes, the sub-networks it updates.
    PHASES: Optional[Tuple[PhaseSpec, ...]] = None

    def __init__(self,
                 fusion_net: ConfigType,
                 fusion_loss: Union[ConfigType, List[ConfigType]],
                 data_preprocessor: Optional[ConfigType] = None,
                 colour: str = 'vis',
                 output_norm: str = 'clip',
                 max_consecutive_nonfinite: int = 10,
                 nonfinite_budget: Optional[float] = 0.1,
                 task: Optional[ConfigType] = None,
                 predict_task: bool = True,
                 seed: int = 0,
                 init_cfg: Optional[dict] = None):
        if task is None and self.requires_task:
            raise TypeError(f'{type(self).__name__} needs a task (the '
                            'config of a TaskAdapter)')
        if data_preprocessor is None:
            data_preprocessor = dict(type='FusionDataPreprocessor')
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.fusion_net = MODELS.build(fusion_net)
        if not isinstance(fusion_loss, (list, tuple)):
            fusion_loss = [fusion_loss]
        self.fusion_loss = torch.nn.ModuleList(
            MODELS.build(cfg) for cfg in fusion_loss)
        if colour not in COLOUR_POLICIES:
            raise ValueError(f'colour must be one of {COLOUR_POLICIES}, got '
                             f'{colour!r}')
        self.colour = colour
        normalize_output(torch.zeros(1, 1, 1, 1), output_norm)  # validate
        self.output_norm = output_norm
        self.nonfinite_guard = NonFiniteGuard(max_consecutive_nonfinite,
                                              nonfinite_budget)
        self._guard_synced = False
        self.task = None if task is None else MODELS.build(task)
        self.predict_task = predict_task
        self.seed = seed

    def snapshot_buffers(self, exclude: Sequence[str] = ()) -> BufferSnapshot:
        """A copy of the model's buffers (except the children named in
        ``exclude``), to restore when an update is skipped."""
        return BufferSnapshot(self, exclude)

    def guarded_update(
        self,
        optim_wrapper: OptimWrapper,
        forward: Callable[[], dict],
        name: str,
        module: Optional[torch.nn.Module] = None,
        since: Optional[BufferSnapshot] = None,
        autocast: bool = True,
        inputs: Optional[Sequence[Tensor]] = None,
        backward_target: Optional[Callable[[Tensor], Tensor]] = None
    ) -> Dict[str, Tensor]:
        """One update that never writes NaN/Inf into the weights or buffers.

        ``forward()`` computes the update's losses. It runs here, after a
        snapshot of every buffer of the model, and inside
        ``optim_wrapper.optim_context(module)`` (AMP autocast under an
        ``AmpOptimWrapper``, DDP ``no_sync`` while accumulating) unless
        ``autocast=False``. A non-finite loss or running statistic (a buffer
        the forward pass moved) skips ``backward``; non-finite gradients skip
        ``step``. A skipped update restores the buffers to the snapshot (and
        to ``since``, an earlier snapshot, for updates whose computation
        began before this call, e.g. the meta step's virtual step), so it
        leaves every parameter and buffer as it was (see
        :class:`NonFiniteGuard`). Finite gradients that an optimiser step
        turns into non-finite weights (an absurd learning rate) stop
        training before they can reach a checkpoint. Returns the log vars.
        """
        guard = self.nonfinite_guard
        self._load_guard_state()
        guard.attempt(name)
        snapshot = self.snapshot_buffers()
        if autocast:
            with optim_wrapper.optim_context(self if module is
                                             None else module):
                losses = forward()
        else:
            losses = forward()
        loss, log_vars = self.parse_losses(losses)

        def skip():
            snapshot.restore()
            if since is not None:
                since.restore()
            return log_vars

        moved = snapshot.new_values()
        if since is not None:
            moved += since.new_values()
        if not guard.ok(name, [loss] + moved, 'loss or running statistic'):
            return skip()
        target = loss if backward_target is None else backward_target(loss)
        if inputs is None:
            optim_wrapper.backward(optim_wrapper.scale_loss(target))
        else:
            optim_wrapper.backward(
                optim_wrapper.scale_loss(target), inputs=list(inputs))
        if not optim_wrapper.should_update():
            return log_vars  # accumulating gradients
        params = [
            p for group in optim_wrapper.param_groups for p in group['params']
        ]
        if not _scales_loss(optim_wrapper):
            # (AMP's GradScaler does its own inf check and skip)
            if not guard.ok(name, [p.grad for p in params], 'gradient'):
                optim_wrapper.zero_grad()
                return skip()
        optim_wrapper.step()
        optim_wrapper.zero_grad()
        guard.taken(name)
        if not guard._all_finite(params):
            lr = optim_wrapper.get_lr()['lr'][0]
            raise FloatingPointError(
                f'the {name} update turned finite gradients into non-finite '
                f'weights (learning rate {lr:g}): stopping before they reach '
                'a checkpoint. Lower the learning rate.')
        return log_vars

    def _load_guard_state(self) -> None:
        """On the first update of a resumed run, take the guard's counts
        from the checkpoint's message hub (written by
        :meth:`with_nonfinite_count`)."""
        if self._guard_synced:
            return
        self._guard_synced = True
        hub = MessageHub.get_current_instance()
        state = hub.get_info('nonfinite_guard')
        if isinstance(state, dict) and \
                state.get('iter') == hub.get_info('iter', 0) - 1:
            self.nonfinite_guard.load_state_dict(state)

    def train_step(self, data: Union[dict, tuple, list],
                   optim_wrapper: OptimWrapper) -> Dict[str, Tensor]:

        def forward():
            inputs = self.data_preprocessor(data, True)
            return self._run_forward(inputs, mode='loss')

        return self.with_nonfinite_count(
            self.guarded_update(optim_wrapper, forward, 'fusion'))

    def current_phase(self, data=None) -> Phase:
        """The running phase of a phased strategy (set by
        ``PhasedTrainLoop``, or by :func:`~mmfusion.structures.phase_scope`
        to run one step of a phase by hand). It must be one of ``PHASES``
        and, given the step's ``data``, the number of batches must be the
        declared one; either error names the declaration."""
        phase = current_phase()
        name = type(self).__name__
        try:
            spec = spec_of(self.PHASES or (), phase.name)
        except ValueError as e:
            raise RuntimeError(
                f'{name}: {e}; train it with PhasedTrainLoop, whose '
                "train_cfg.phases name these phases") from None
        if data is not None:
            n = len(data) if isinstance(data, (list, tuple)) else 1
            if n != spec.batches:
                raise ValueError(
                    f'{name} phase {spec.name!r} takes {spec.batches} '
                    f'batch(es) per step, got {n}: set batches_per_iter / '
                    "extra_batches of that phase in train_cfg.phases")
        return phase

    def check_targets(self, data_samples: Sequence) -> None:
        """Check a dataset's samples before training (the loop calls it with
        the first sample of each dataloader): a task-driven algorithm's task
        must find every target it needs (an error names it)."""
        task = unwrap(self.task) if self.task is not None else None
        if task is not None and hasattr(task, 'check_targets'):
            task.check_targets(data_samples)

    def with_nonfinite_count(self, log_vars: dict) -> dict:
        """Add the number of skipped non-finite updates to the log, keep the
        guard's counts in the message hub (so checkpoints carry them), and
        check the skip budget at the last training iteration."""
        guard = self.nonfinite_guard
        log_vars['nonfinite_skipped'] = torch.tensor(float(guard.skipped))
        hub = MessageHub.get_current_instance()
        it = hub.get_info('iter', 0)
        hub.update_info('nonfinite_guard', dict(guard.state_dict(), iter=it))
        max_iters = hub.get_info('max_iters')  # the Runner's, when in one
        if max_iters is not None and it + 1 >= max_iters:
            guard.check_budget(final=True)
        return log_vars

    def fuse(self, inputs: Dict[str, Tensor]) -> Tensor:
        """Fused Y ``(N, 1, H, W)`` of preprocessed inputs."""
        return self.fusion_net(inputs['ir'], inputs['vis_y'])

    def compute_fusion_loss(self, fused: Tensor, inputs: Dict[str, Tensor],
                            **kwargs) -> Dict[str, Tensor]:
        """Sum of the configured fusion losses' terms; ``kwargs`` (e.g. the
        loss generator's ``pixel_weights``) are passed to every loss."""
        losses = {}
        for loss_module in self.fusion_loss:
            terms = loss_module(fused, inputs['ir'], inputs['vis_y'], **kwargs)
            for name, value in terms.items():
                if name in losses:
                    raise KeyError(f'two fusion losses both return {name!r}')
                losses[name] = value
        return losses

    def colourize(self, fused_y: Tensor, inputs: Dict[str, Tensor]) -> Tensor:
        """Fused RGB ``(N, 3, H, W)`` in [0, 1] following ``self.colour`` and
        ``self.output_norm``."""
        rgb = restore_colour(fused_y, self.colour, inputs.get('vis_cbcr'),
                             inputs.get('ir_cbcr'))
        return normalize_output(rgb, self.output_norm)

    def forward(self,
                inputs: Dict[str, Tensor],
                data_samples: Optional[List[FusionDataSample]] = None,
                mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.fuse(inputs)
        raise RuntimeError(f'Invalid mode "{mode}". Only supports loss, '
                           'predict and tensor mode')

    def loss(self,
             inputs: Dict[str, Tensor],
             data_samples: Optional[List[FusionDataSample]] = None) -> dict:
        return self.compute_fusion_loss(self.fuse(inputs), inputs)

    def predict(
        self,
        inputs: Dict[str, Tensor],
        data_samples: Optional[List[FusionDataSample]] = None
    ) -> List[FusionDataSample]:
        """Fuse and attach ``pred_fused`` (RGB) and ``pred_fused_y`` to the
        data samples, cropped back to each pair's ``img_shape``. With a
        ``task`` and ``predict_task=True`` the task also runs on the fused
        images (for task metrics such as ``mmseg.IoUMetric``)."""
        fused_y = self.fuse(inputs)
        samples = self.attach_fused(fused_y, inputs, data_samples)
        if self.task is not None and self.predict_task and \
                data_samples is not None:
            # the task sees each fused image without the batch padding (its
            # own preprocessor pads as it needs and undoes it), so that its
            # predictions are of the image, at the image's size
            fused = fused_y.clamp(0, 1)
            groups: Dict[tuple, List[int]] = {}
            for i, sample in enumerate(samples):
                shape = tuple(
                    sample.metainfo.get('img_shape', fused.shape[-2:]))[:2]
                groups.setdefault(shape, []).append(i)
            for (h, w), index in groups.items():
                self.task(
                    fused[index, :, :h, :w],
                    inputs['vis_cbcr'][index, :, :h, :w],
                    [samples[i] for i in index],
                    mode='predict')
        return samples

    def attach_fused(
        self,
        fused_y: Tensor,
        inputs: Dict[str, Tensor],
        data_samples: Optional[List[FusionDataSample]] = None
    ) -> List[FusionDataSample]:
        if data_samples is None:
            data_samples = [FusionDataSample() for _ in range(len(fused_y))]
        results = []
        for i, sample in enumerate(data_samples):
            h, w = sample.metainfo.get('img_shape', fused_y.shape[-2:])
            y = fused_y[i:i + 1, :, :h, :w]
            crop = {k: v[i:i + 1, :, :h, :w] for k, v in inputs.items()}
            sample.pred_fused_y = PixelData(data=y[0].clamp(0, 1))
            sample.pred_fused = PixelData(data=self.colourize(y, crop)[0])
            results.append(sample)
        return results
