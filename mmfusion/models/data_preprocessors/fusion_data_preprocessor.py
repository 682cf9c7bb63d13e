# Copyright (c) mmfusion contributors. All rights reserved.
import math
from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseDataPreprocessor
from mmengine.structures import PixelData
from torch import Tensor

from mmfusion.registry import MODELS
from mmfusion.utils import opencv_cbcr, opencv_gray, rgb_to_ycbcr


@MODELS.register_module()
class FusionDataPreprocessor(BaseDataPreprocessor):
    """Batch IR/VIS pairs and convert them to the fusion nets' inputs.

    The pipeline packs each pair as one ``(3 + 1, H, W)`` uint8 tensor: VIS in
    the pipeline's channel order (BGR, OpenMMLab's convention) followed by IR
    (see :class:`PackFusionInputs`). This preprocessor

    1. pads the pairs of a batch to a common size (bottom/right, ``pad_val``;
       optionally to a multiple of ``size_divisor``) and pads every pixel map
       of the samples (``gt_sem_seg``, ``gt_edge_map``, ...) with
       ``seg_pad_val``, recording ``pad_shape`` and ``batch_input_shape``
       in every sample's metainfo;
    2. scales to [0, 1] and splits the modalities;
    3. converts VIS to RGB and to Y/CbCr (``mmfusion.utils.rgb_to_ycbcr``;
       with ``ycbcr='opencv'``, OpenCV's uint8 ``BGR2GRAY`` and ``BGR2YCrCb``
       chroma, :func:`mmfusion.utils.opencv_gray` / ``opencv_cbcr``).

    Every operation is differentiable (except the ``'opencv'`` conversion,
    which is for 8-bit images), so the same code can prepare images
    produced inside a training step.

    Returns ``dict(inputs=dict(ir, vis, vis_y, vis_cbcr), data_samples)`` with
    ``ir``/``vis_y`` ``(N, 1, H, W)``, ``vis`` ``(N, 3, H, W)`` RGB and
    ``vis_cbcr`` ``(N, 2, H, W)``, all in [0, 1].

    Args:
        vis_channels: number of leading VIS channels in the packed tensor.
        bgr_to_rgb: the packed VIS is BGR (default) and must be reversed.
        size_divisor: pad height and width up to a multiple of it.
        pad_val: padding value of images (0-255 scale).
        seg_pad_val: padding value of semantic masks (255 = ignore).
        ycbcr: ``'float'`` (default): the fusion literature's formulas;
            ``'opencv'``: the integer arithmetic of OpenCV's uint8
            conversions, for models whose official code reads the VIS grey
            with ``cv2.cvtColor`` (TarDAL); pair it with the colour policy
            ``'vis_opencv'`` to get OpenCV's ``YCrCb2BGR`` back.
    """

    def __init__(self,
                 vis_channels: int = 3,
                 bgr_to_rgb: bool = True,
                 size_divisor: Optional[int] = None,
                 pad_val: float = 0,
                 seg_pad_val: int = 255,
                 non_blocking: bool = False,
                 ycbcr: str = 'float'):
        super().__init__(non_blocking)
        if vis_channels not in (1, 3):
            raise ValueError(
                f'vis_channels must be 1 or 3, got {vis_channels}')
        self.vis_channels = vis_channels
        self.bgr_to_rgb = bgr_to_rgb
        self.size_divisor = size_divisor
        self.pad_val = pad_val
        self.seg_pad_val = seg_pad_val
        if ycbcr not in ('float', 'opencv'):
            raise ValueError(
                f"ycbcr must be 'float' or 'opencv', got {ycbcr!r}")
        self.ycbcr = ycbcr

    def _stack(self,
               inputs: Union[Tensor, Sequence[Tensor]],
               data_samples: Optional[list],
               training: bool = True) -> Tensor:
        if isinstance(inputs, Tensor) and inputs.dim() == 4:
            inputs = list(inputs)
        h = max(img.shape[-2] for img in inputs)
        w = max(img.shape[-1] for img in inputs)
        if self.size_divisor:
            h = math.ceil(h / self.size_divisor) * self.size_divisor
            w = math.ceil(w / self.size_divisor) * self.size_divisor
        padded = []
        for i, img in enumerate(inputs):
            if img.dim() != 3 or img.size(0) != self.vis_channels + 1:
                raise ValueError(
                    f'expected packed (VIS {self.vis_channels} + IR 1, H, W) '
                    f'inputs, got a tensor of shape {tuple(img.shape)}')
            pad = (0, w - img.shape[-1], 0, h - img.shape[-2])
            padded.append(F.pad(img.float(), pad, value=self.pad_val))
            if data_samples is None:
                continue
            sample = data_samples[i]
            sample.set_metainfo(
                dict(batch_input_shape=(h, w), pad_shape=(h, w)))
            if not any(pad) or not training:
                # test time: labels stay at their size, as mmseg's
                # preprocessor leaves them (metrics compare predictions, at
                # the image's size, with them)
                continue
            for key in list(sample.keys()):
                # every pixel map (gt_sem_seg, gt_edge_map, gt_depth_map,
                # ...), as mmseg's stack_batch pads them
                value = getattr(sample, key)
                if isinstance(value, PixelData):
                    # a new PixelData: PixelData refuses a change of shape
                    sample.set_field(
                        PixelData(
                            data=F.pad(
                                value.data, pad, value=self.seg_pad_val),
                            metainfo=value.metainfo), key)
        return torch.stack(padded)

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        data_samples = data.get('data_samples')
        batch = self._stack(data['inputs'], data_samples, training) / 255.
        vis = batch[:, :self.vis_channels]
        ir = batch[:, self.vis_channels:]
        if self.vis_channels == 1:
            vis = vis.expand(-1, 3, -1, -1)
        elif self.bgr_to_rgb:
            vis = vis.flip(1)
        if self.ycbcr == 'opencv':
            vis_y, vis_cbcr = opencv_gray(vis), opencv_cbcr(vis)
        else:
            vis_y, vis_cbcr = rgb_to_ycbcr(vis)
        return dict(
            inputs=dict(ir=ir, vis=vis, vis_y=vis_y, vis_cbcr=vis_cbcr),
            data_samples=data_samples)
