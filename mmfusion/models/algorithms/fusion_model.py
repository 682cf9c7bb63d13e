# Copyright (c) mmfusion contributors. All rights reserved.
from typing import Dict, List, Optional, Union

import torch
from mmengine.config import ConfigDict
from mmengine.model import BaseModel
from mmengine.structures import PixelData
from torch import Tensor

from mmfusion.registry import MODELS
from mmfusion.structures import FusionDataSample
from mmfusion.utils import normalize_output, restore_colour
from mmfusion.utils.colour import COLOUR_POLICIES

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
        init_cfg: mmengine init config.
    """

    def __init__(self,
                 fusion_net: ConfigType,
                 fusion_loss: Union[ConfigType, List[ConfigType]],
                 data_preprocessor: Optional[ConfigType] = None,
                 colour: str = 'vis',
                 output_norm: str = 'clip',
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

    def fuse(self, inputs: Dict[str, Tensor]) -> Tensor:
        """Fused Y ``(N, 1, H, W)`` of preprocessed inputs."""
        return self.fusion_net(inputs['ir'], inputs['vis_y'])

    def compute_fusion_loss(self, fused: Tensor,
                            inputs: Dict[str, Tensor]) -> Dict[str, Tensor]:
        losses = {}
        for loss_module in self.fusion_loss:
            terms = loss_module(fused, inputs['ir'], inputs['vis_y'])
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
        samples, cropped back to each pair's ``img_shape``."""
        fused_y = self.fuse(inputs)
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
