# Copyright (c) mmfusion contributors. All rights reserved.
"""Batch-level views of preprocessed IR/VIS pairs used inside training steps:
random crops (fusion-loss branch), resizing (task branch) and modality swap.
Labels in the data samples follow the geometry."""
import copy
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from torch import Tensor

Inputs = Dict[str, Tensor]


def random_crop_batch(inputs: Inputs,
                      size: Tuple[int, int],
                      generator: Optional[torch.Generator] = None,
                      data_samples: Optional[Sequence] = None) -> Inputs:
    """Crop every image of the batch at its own random offset (the same
    offset for all modalities of a pair) to ``size = (h, w)``.

    Offsets stay inside each pair's ``img_shape`` when ``data_samples`` are
    given (so padding is not cropped into); images smaller than ``size`` are
    used whole (then the batch is cropped to the smallest common size).
    """
    h, w = size
    n, _, H, W = next(iter(inputs.values())).shape
    crops = {k: [] for k in inputs}
    for i in range(n):
        ih, iw = (data_samples[i].metainfo.get('img_shape', (H, W))
                  if data_samples is not None else (H, W))
        ch, cw = min(h, ih), min(w, iw)
        top = int(torch.randint(0, ih - ch + 1, (1, ), generator=generator))
        left = int(torch.randint(0, iw - cw + 1, (1, ), generator=generator))
        for k, v in inputs.items():
            crops[k].append(v[i:i + 1, :, top:top + ch, left:left + cw])
    mh = min(c.shape[-2] for c in crops[next(iter(crops))])
    mw = min(c.shape[-1] for c in crops[next(iter(crops))])
    return {
        k: torch.cat([c[..., :mh, :mw] for c in v])
        for k, v in crops.items()
    }


def resize_batch(inputs: Inputs, data_samples: Sequence,
                 size: Tuple[int, int]) -> Tuple[Inputs, List]:
    """Resize the whole batch to ``size = (h, w)`` (bilinear) and return
    deep-copied samples whose masks (nearest), boxes and shapes follow."""
    h, w = size
    _, _, H, W = next(iter(inputs.values())).shape
    out = {
        k: F.interpolate(v, size=(h, w), mode='bilinear', align_corners=False)
        for k, v in inputs.items()
    }
    sy, sx = h / H, w / W
    samples = copy.deepcopy(list(data_samples))
    for s in samples:
        ih, iw = s.metainfo.get('img_shape', (H, W))
        s.set_metainfo(
            dict(
                img_shape=(round(ih * sy), round(iw * sx)),
                pad_shape=(h, w),
                batch_input_shape=(h, w)))
        if s.get('gt_sem_seg') is not None:
            seg = s.gt_sem_seg.data
            s.gt_sem_seg = PixelData(
                data=F.interpolate(
                    seg[None].float(), size=(h, w),
                    mode='nearest')[0].to(seg.dtype))
        if s.get('gt_instances') is not None and \
                'bboxes' in s.gt_instances:
            scale = s.gt_instances.bboxes.new_tensor([sx, sy, sx, sy])
            s.gt_instances.bboxes = s.gt_instances.bboxes * scale
    return out, samples


def swap_modalities(inputs: Inputs,
                    data_samples: Optional[Sequence] = None):
    """TDFusion's "switch" augmentation: append each pair with IR and VIS-Y
    exchanged, so both branches of the net see both modalities. Other keys
    (VIS RGB, chroma) and the samples are duplicated unchanged."""
    out = {k: torch.cat([v, v]) for k, v in inputs.items()}
    out['ir'] = torch.cat([inputs['ir'], inputs['vis_y']])
    out['vis_y'] = torch.cat([inputs['vis_y'], inputs['ir']])
    if data_samples is None:
        return out, None
    return out, list(data_samples) + copy.deepcopy(list(data_samples))
