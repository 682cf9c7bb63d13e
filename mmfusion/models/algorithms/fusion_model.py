# Copyright (c) mmfusion contributors. All rights reserved.
from typing import Dict, List, Optional, Union

import torch
from mmengine.config import ConfigDict
from mmengine.model import BaseModel
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmengine.structures import PixelData
from torch import Tensor

from mmfusion.registry import MODELS
from mmfusion.structures import FusionDataSample
from mmfusion.utils import normalize_output, restore_colour
from mmfusion.utils.colour import COLOUR_POLICIES
from ..utils.nonfinite import NonFiniteGuard

ConfigType = Union[dict, ConfigDict]


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
        max_consecutive_nonfinite: a non-finite loss or gradient skips the
            update (counted in the log as ``nonfinite_skipped``); this many in
            a row stop training with an error.
        task: config of a :class:`TaskAdapter` (task-driven algorithms).
        predict_task: with a ``task``, also run it on the fused images in
            ``predict`` (for task metrics such as ``mmseg.IoUMetric`` in
            validation).
        seed: base of the algorithm's private random streams (crops, jitter,
            re-initialisation, aggregation draws), which depend on (seed,
            iteration or round) only, so resumed runs draw exactly as
            uninterrupted ones (:func:`~mmfusion.models.utils.misc.
            seeded_generator`).
        init_cfg: mmengine init config.
    """

    def __init__(self,
                 fusion_net: ConfigType,
                 fusion_loss: Union[ConfigType, List[ConfigType]],
                 data_preprocessor: Optional[ConfigType] = None,
                 colour: str = 'vis',
                 output_norm: str = 'clip',
                 max_consecutive_nonfinite: int = 10,
                 task: Optional[ConfigType] = None,
                 predict_task: bool = True,
                 seed: int = 0,
                 init_cfg: Optional[dict] = None):
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
        self.nonfinite_guard = NonFiniteGuard(max_consecutive_nonfinite)
        self.task = None if task is None else MODELS.build(task)
        self.predict_task = predict_task
        self.seed = seed

    def guarded_update(self, optim_wrapper: OptimWrapper, losses: dict,
                       name: str) -> Dict[str, Tensor]:
        """``optim_wrapper.update_params`` that never writes NaN/Inf into the
        weights: a non-finite loss skips ``backward``, non-finite gradients
        skip ``step`` (see :class:`NonFiniteGuard`). Returns the log vars."""
        loss, log_vars = self.parse_losses(losses)
        if not self.nonfinite_guard.ok(name, [loss]):
            return log_vars
        optim_wrapper.backward(optim_wrapper.scale_loss(loss))
        if not optim_wrapper.should_update():
            return log_vars  # accumulating gradients
        if not isinstance(optim_wrapper, AmpOptimWrapper):
            # (AMP's GradScaler does its own inf check and skip)
            grads = [
                p.grad for group in optim_wrapper.param_groups
                for p in group['params']
            ]
            if not self.nonfinite_guard.ok(f'{name} gradient', grads):
                optim_wrapper.zero_grad()
                return log_vars
        optim_wrapper.step()
        optim_wrapper.zero_grad()
        return log_vars

    def train_step(self, data: Union[dict, tuple, list],
                   optim_wrapper: OptimWrapper) -> Dict[str, Tensor]:
        with optim_wrapper.optim_context(self):
            data = self.data_preprocessor(data, True)
            losses = self._run_forward(data, mode='loss')
        return self.with_nonfinite_count(
            self.guarded_update(optim_wrapper, losses, 'fusion'))

    def with_nonfinite_count(self, log_vars: dict) -> dict:
        """Add the number of skipped non-finite updates to the log."""
        log_vars['nonfinite_skipped'] = torch.tensor(
            float(self.nonfinite_guard.skipped))
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
            terms = loss_module(fused, inputs['ir'], inputs['vis_y'],
                                **kwargs)
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

    def loss(self, inputs: Dict[str, Tensor],
             data_samples: Optional[List[FusionDataSample]] = None) -> dict:
        return self.compute_fusion_loss(self.fuse(inputs), inputs)

    def predict(self, inputs: Dict[str, Tensor],
                data_samples: Optional[List[FusionDataSample]] = None
                ) -> List[FusionDataSample]:
        """Fuse and attach ``pred_fused`` (RGB) and ``pred_fused_y`` to the data
        samples, cropped back to each pair's ``img_shape``. With a ``task``
        and ``predict_task=True`` the task also runs on the fused images
        (for task metrics such as ``mmseg.IoUMetric``)."""
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
                self.task(fused[index, :, :h, :w],
                          inputs['vis_cbcr'][index, :, :h, :w],
                          [samples[i] for i in index],
                          mode='predict')
        return samples

    def attach_fused(self, fused_y: Tensor, inputs: Dict[str, Tensor],
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
