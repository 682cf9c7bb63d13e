# Copyright (c) mmfusion contributors. All rights reserved.
"""Batch-level views of preprocessed IR/VIS pairs used inside training steps:
random crops (fusion-loss branch), resizing (task branch) and modality swap.

Every target a task can get follows the geometry, by its type, here and only
here (:func:`transform_sample`):

- pixel maps: every :class:`PixelData` field (``gt_sem_seg``,
  ``gt_edge_map``, ``gt_depth_map``, ...), nearest-neighbour (as mmseg's
  ``Resize`` treats its ``seg_fields``), or left at full resolution
  (``pixel_maps=False``: a segmentor's head resizes its logits to them);
- every :class:`InstanceData` field (``gt_instances``,
  ``ignored_instances``, ...): ``bboxes`` of any mmdet box type through the
  box type's own ``rescale_`` / ``translate_`` / ``clip_`` (plain ``(N, 4)``
  tensors as ``HorizontalBoxes``), ``masks`` (``BitmapMasks`` /
  ``PolygonMasks``) through their own ``resize`` / ``crop``; a crop drops
  the instances it leaves without area, in every per-instance field;
- the metainfo the task's heads read: ``img_shape``, ``scale_factor``,
  ``pad_shape``, ``batch_input_shape``.
"""
import copy
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.structures import InstanceData, PixelData
from torch import Tensor

Inputs = Dict[str, Tensor]
# a crop window: (top, left, h, w)
Window = Tuple[int, int, int, int]


class _Rescale:
    """Scale by ``(sx, sy)``; the batch becomes ``out_shape = (h, w)``."""

    def __init__(self, sx: float, sy: float, out_shape: Tuple[int, int]):
        self.sx, self.sy, self.out_shape = sx, sy, tuple(out_shape)

    def shape(self, shape) -> Tuple[int, int]:
        h, w = shape[:2]
        return round(h * self.sy), round(w * self.sx)

    def pixels(self, data: Tensor) -> Tensor:
        size = self.shape(data.shape[-2:])
        out = F.interpolate(data[None].float(), size=size, mode='nearest')
        return out[0].to(data.dtype)

    def boxes(self, boxes):
        boxes.rescale_((self.sx, self.sy))
        return boxes

    def masks(self, masks, img_shape):
        return masks.resize(self.shape((masks.height, masks.width)))

    def keep(self, boxes):
        return None

    def metainfo(self, meta: dict) -> dict:
        out = dict(pad_shape=self.out_shape, batch_input_shape=self.out_shape)
        if 'img_shape' in meta:
            out['img_shape'] = self.shape(meta['img_shape'])
        old = meta.get('scale_factor', (1., 1.))
        out['scale_factor'] = (float(old[0]) * self.sx,
                               float(old[1]) * self.sy)
        return out


class _Crop:
    """Crop the window at ``(top, left)`` of size ``(h, w)``."""

    def __init__(self, top: int, left: int, h: int, w: int):
        self.top, self.left, self.h, self.w = top, left, h, w

    def shape(self, shape) -> Tuple[int, int]:
        h, w = shape[:2]
        return (max(0, min(self.h,
                           h - self.top)), max(0, min(self.w, w - self.left)))

    def pixels(self, data: Tensor) -> Tensor:
        return data[..., self.top:self.top + self.h,
                    self.left:self.left + self.w]

    def boxes(self, boxes):
        boxes.translate_((-self.left, -self.top))
        boxes.clip_((self.h, self.w))
        return boxes

    def masks(self, masks, img_shape):
        return masks.crop(
            np.array(
                [self.left, self.top, self.left + self.w, self.top + self.h]))

    def keep(self, boxes):
        """Instances that keep an area inside the window."""
        return (boxes.widths > 0) & (boxes.heights > 0)

    def metainfo(self, meta: dict) -> dict:
        out = dict(
            pad_shape=(self.h, self.w), batch_input_shape=(self.h, self.w))
        if 'img_shape' in meta:
            out['img_shape'] = self.shape(meta['img_shape'])
        return out


def _as_boxes(bboxes):
    """mmdet box object of ``bboxes`` and whether it was a plain tensor."""
    from mmdet.structures.bbox import BaseBoxes, HorizontalBoxes
    if isinstance(bboxes, BaseBoxes):
        return bboxes, False
    return HorizontalBoxes(bboxes.float()), True


def _transform_instances(instances: InstanceData, op,
                         img_shape) -> InstanceData:
    keep = None
    if 'bboxes' in instances:
        boxes, plain = _as_boxes(instances.bboxes)
        boxes = op.boxes(boxes)
        keep = op.keep(boxes)
        instances.bboxes = boxes.tensor if plain else boxes
    if 'masks' in instances:
        instances.masks = op.masks(instances.masks, img_shape)
    if keep is not None and not bool(keep.all()):
        instances = instances[keep]
    return instances


def transform_sample(sample, op, pixel_maps: bool = True):
    """Apply a geometric ``op`` (``_Rescale`` / ``_Crop``) to every target
    of ``sample`` by its type, and to its metainfo, in place.
    ``pixel_maps=False`` leaves the :class:`PixelData` targets as they are
    (e.g. full-resolution label maps, to which a segmentor's head resizes
    its logits)."""
    img_shape = sample.metainfo.get('img_shape')
    for key in list(sample.keys()):
        value = getattr(sample, key)
        if isinstance(value, PixelData):
            if not pixel_maps:
                continue
            # a new PixelData: PixelData refuses a change of shape
            setattr(
                sample, key,
                PixelData(data=op.pixels(value.data), metainfo=value.metainfo))
        elif isinstance(value, InstanceData):
            setattr(sample, key, _transform_instances(value, op, img_shape))
    sample.set_metainfo(op.metainfo(sample.metainfo))
    return sample


def crop_sample(sample, top: int, left: int, h: int, w: int):
    """``sample`` (in place) for the window ``(top, left, h, w)``."""
    return transform_sample(sample, _Crop(top, left, h, w))


def rescale_sample(sample,
                   sx: float,
                   sy: float,
                   out_shape: Tuple[int, int],
                   pixel_maps: bool = True):
    """``sample`` (in place) for its batch rescaled by ``(sx, sy)`` to
    ``out_shape`` (``pixel_maps``: see :func:`transform_sample`)."""
    return transform_sample(sample, _Rescale(sx, sy, out_shape), pixel_maps)


def crop_windows(inputs: Inputs,
                 size: Tuple[int, int],
                 generator: Optional[torch.Generator] = None,
                 data_samples: Optional[Sequence] = None) -> List[Window]:
    """One random window ``(top, left, h, w)`` of ``size = (h, w)`` per image
    of the batch (per pair: every modality of a pair is cropped alike),
    drawn from ``generator``: for each image in turn, ``top`` then ``left``,
    uniform over the offsets that keep the window inside the image's
    ``img_shape`` (when ``data_samples`` are given: so padding is not
    cropped into; else the batch's shape). An image smaller than ``size``
    gives a window of its own size."""
    h, w = size
    n, _, H, W = next(iter(inputs.values())).shape
    windows = []
    for i in range(n):
        ih, iw = (
            data_samples[i].metainfo.get('img_shape',
                                         (H,
                                          W)) if data_samples is not None else
            (H, W))
        ch, cw = min(h, ih), min(w, iw)
        top = int(torch.randint(0, ih - ch + 1, (1, ), generator=generator))
        left = int(torch.randint(0, iw - cw + 1, (1, ), generator=generator))
        windows.append((top, left, ch, cw))
    return windows


def random_crop_batch(inputs: Inputs,
                      size: Tuple[int, int],
                      generator: Optional[torch.Generator] = None,
                      data_samples: Optional[Sequence] = None,
                      return_samples: bool = False,
                      windows: Optional[Sequence[Sequence[int]]] = None):
    """Crop every image of the batch at its own random offset (the same
    offset for all modalities of a pair) to ``size = (h, w)``.

    The windows are :func:`crop_windows` (offsets inside each pair's
    ``img_shape`` when ``data_samples`` are given; images smaller than
    ``size`` are used whole, and the batch is then cropped to the smallest
    common size), or the given ``windows``: one ``(top, left)`` or
    ``(top, left, h, w)`` per image (``size`` fills a missing ``h, w``),
    e.g. to reproduce another implementation's crops; no random number is
    drawn then. With ``return_samples`` it returns ``(crops, samples)``:
    deep copies of ``data_samples`` whose targets and metainfo follow the
    crops (:func:`transform_sample`).
    """
    n, _, H, W = next(iter(inputs.values())).shape
    if windows is None:
        windows = crop_windows(inputs, size, generator, data_samples)
    else:
        windows = [_full_window(win, size) for win in windows]
        if len(windows) != n:
            raise ValueError(f'{len(windows)} crop windows given for a batch '
                             f'of {n} images')
        for top, left, ch, cw in windows:
            if top < 0 or left < 0 or top + ch > H or left + cw > W:
                raise ValueError(
                    f'the crop window (top={top}, left={left}, h={ch}, '
                    f'w={cw}) leaves the batch of {H}x{W} images')
    mh = min(win[2] for win in windows)
    mw = min(win[3] for win in windows)
    crops = {
        k:
        torch.cat([
            v[i:i + 1, :, top:top + mh, left:left + mw]
            for i, (top, left, _, _) in enumerate(windows)
        ])
        for k, v in inputs.items()
    }
    if not return_samples:
        return crops
    if data_samples is None:
        return crops, None
    samples = copy.deepcopy(list(data_samples))
    for s, (top, left, _, _) in zip(samples, windows):
        crop_sample(s, top, left, mh, mw)
    return crops, samples


def _full_window(window: Sequence[int], size: Tuple[int, int]) -> Window:
    """``(top, left[, h, w])`` -> ``(top, left, h, w)``."""
    window = tuple(int(v) for v in window)
    if len(window) == 2:
        return window + tuple(int(v) for v in size)
    if len(window) != 4:
        raise ValueError('a crop window is (top, left) or (top, left, h, w), '
                         f'got {window}')
    return window


def resize_batch(inputs: Inputs,
                 data_samples: Sequence,
                 size: Tuple[int, int],
                 pixel_maps: bool = True) -> Tuple[Inputs, List]:
    """Resize the whole batch to ``size = (h, w)`` (bilinear) and return
    deep-copied samples whose targets and metainfo follow
    (:func:`transform_sample`); ``pixel_maps=False`` keeps the pixel maps
    (``gt_sem_seg``, ...) at the batch's resolution."""
    h, w = size
    _, _, H, W = next(iter(inputs.values())).shape
    out = {
        k: F.interpolate(v, size=(h, w), mode='bilinear', align_corners=False)
        for k, v in inputs.items()
    }
    samples = copy.deepcopy(list(data_samples))
    for s in samples:
        rescale_sample(s, w / W, h / H, (h, w), pixel_maps)
    return out, samples


def swap_modalities(inputs: Inputs, data_samples: Optional[Sequence] = None):
    """TDFusion's "switch" augmentation: append each pair with IR and VIS-Y
    exchanged, so both branches of the net see both modalities. Other keys
    (VIS RGB, chroma) and the samples are duplicated unchanged (the pairs are
    aligned, so every target holds for both)."""
    out = {k: torch.cat([v, v]) for k, v in inputs.items()}
    out['ir'] = torch.cat([inputs['ir'], inputs['vis_y']])
    out['vis_y'] = torch.cat([inputs['vis_y'], inputs['ir']])
    if data_samples is None:
        return out, None
    return out, list(data_samples) + copy.deepcopy(list(data_samples))
