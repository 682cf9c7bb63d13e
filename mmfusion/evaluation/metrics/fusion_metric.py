# Copyright (c) mmfusion contributors. All rights reserved.
import csv
import json
import os
import os.path as osp
from typing import List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from mmfusion.registry import METRICS
from ..functional import (DEFAULT_OPTIONS, REFERENCE_FREE_METRICS,
                          fused_to_gray, map_fusion_metrics,
                          parse_metric_names, read_gray)


def _sample_get(sample, key, default=None):
    """Read ``key`` from a data sample given as dict (what the evaluator
    passes) or as a data element."""
    if isinstance(sample, dict):
        if key in sample:
            return sample[key]
        return sample.get('metainfo', {}).get(key, default)
    return getattr(sample, key, default) if hasattr(sample, key) else \
        sample.metainfo.get(key, default)


def _pixel_data(value):
    if value is None:
        return None
    if isinstance(value, dict):
        return value.get('data')
    return getattr(value, 'data', value)


@METRICS.register_module()
class FusionMetric(BaseMetric):
    """Statistical fusion metrics of the fused images against their IR and
    VIS sources, in the de facto convention of the field by default.

    For every sample, the fused RGB image (``pred_fused``) is quantised to
    uint8 exactly as :class:`~mmfusion.engine.hooks.FusedImageSaveHook`
    saves it, and the sources are read from the sample's ``ir_path`` /
    ``vis_path``; all three become gray images the way the de facto
    evaluator reads files (8-bit, OpenCV BGR->GRAY in float, rounded), see
    :mod:`mmfusion.evaluation.functional.image_io`. The metric maths is
    :func:`mmfusion.evaluation.functional.compute_fusion_metrics`
    (vectorised torch, batched; on GPU when one is available).

    Metrics (``docs/evaluation.md`` has every formula and option): EN, SD,
    SF, AG, MI, SCD, VIF, Qabf, SSIM, PSNR, MSE, CC (the de facto
    evaluator's set), Nabf and MS_SSIM. Constant images give defined values
    (e.g. CC/SCD 0, VIF 1 for a constant source, PSNR +inf when MSE = 0).

    The references are the original files, so the test pipeline must keep
    the images at their original size (no resize or crop).

    Args:
        fusion_metrics: metric names (aliases such as ``'MS-SSIM'``
            accepted) or ``'all'`` (default). Not called ``metrics``: mmengine
            reads an evaluator dict with a ``metrics`` key as a whole custom
            evaluator (mmseg's IoUMetric avoids it the same way).
        rounding: quantisation of the fused image, ``'round'`` or
            ``'floor'`` (use what the fused images are saved with).
        device: ``'auto'`` (CUDA when available, else CPU), ``'cpu'``,
            ``'cuda'`` ...
        per_image_file: optional ``.csv`` or ``.json`` path; the per-image
            values are written there after each evaluation.
        backend_args: file backend arguments for reading the sources.
        collect_device / prefix: see :class:`mmengine.evaluator.BaseMetric`.
        **options: convention switches of
            :func:`~mmfusion.evaluation.functional.compute_fusion_metrics`
            (``mi_base``, ``sf_scale``, ``psnr_peak``, ``vif_reduction``,
            ``ssim_mode``, ``ssim_reduction``, ``ssim_data_range``,
            ``ssim_dtype``, ``nabf_scale``).
    """

    default_prefix: Optional[str] = 'fusion'

    def __init__(self,
                 fusion_metrics: Union[str, Sequence[str]] = 'all',
                 rounding: str = 'round',
                 device: str = 'auto',
                 per_image_file: Optional[str] = None,
                 backend_args: Optional[dict] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 **options):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.metrics = parse_metric_names(fusion_metrics)
        if rounding not in ('round', 'floor'):
            raise ValueError(f"rounding must be 'round' or 'floor', got "
                             f'{rounding!r}')
        self.rounding = rounding
        unknown = set(options) - set(DEFAULT_OPTIONS)
        if unknown:
            raise TypeError(f'FusionMetric got unknown options '
                            f'{sorted(unknown)}; metric options are '
                            f'{sorted(DEFAULT_OPTIONS)}')
        self.options = options
        self.device = device
        self.per_image_file = per_image_file
        self.backend_args = backend_args
        self._needs_refs = any(m not in REFERENCE_FREE_METRICS
                               for m in self.metrics)

    def _device(self) -> torch.device:
        if self.device == 'auto':
            return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
        return torch.device(self.device)

    def _img_id(self, sample) -> str:
        img_id = _sample_get(sample, 'img_id')
        if img_id is None:
            path = _sample_get(sample, 'ir_path') or \
                _sample_get(sample, 'vis_path')
            img_id = osp.splitext(osp.basename(path or ''))[0]
        return img_id

    def _load(self, sample) -> list:
        """The sample's gray fused image and sources (``None`` when only
        reference-free metrics are asked for), as ``[(fused, ir, vis)]``."""
        fused = _pixel_data(_sample_get(sample, 'pred_fused'))
        if fused is None:
            fused = _pixel_data(_sample_get(sample, 'pred_fused_y'))
        if fused is None:
            raise KeyError('FusionMetric needs `pred_fused` (or '
                           '`pred_fused_y`) in the data samples; is the model '
                           'a fusion model in predict mode?')
        fused = fused_to_gray(fused, self.rounding)
        if not self._needs_refs:
            return [(fused, None, None)]
        ir_path = _sample_get(sample, 'ir_path')
        vis_path = _sample_get(sample, 'vis_path')
        if ir_path is None or vis_path is None:
            raise KeyError(
                f'sample {self._img_id(sample)!r} has no `ir_path`/'
                '`vis_path` metainfo; the reference-based fusion metrics '
                'read the sources from them (or restrict `metrics` to '
                f'{REFERENCE_FREE_METRICS})')
        sources = []
        for key, path in (('ir', ir_path), ('vis', vis_path)):
            sources.append(read_gray(path, self.backend_args))
            if sources[-1].shape != fused.shape:
                h, w = fused.shape
                rh, rw = sources[-1].shape
                raise ValueError(
                    f'the fused image of {self._img_id(sample)!r} is {w}x{h} '
                    f'but its {key.upper()} source {path} is {rw}x{rh}: '
                    'FusionMetric compares the fused image with the original '
                    'files, so the test pipeline must not resize or crop the '
                    'pairs')
        return [(fused, *sources)]

    def process(self, data_batch, data_samples: Sequence) -> None:
        """Measure every sample of the batch: the sources are read and the
        images measured in parallel threads on CPU, together (same-size
        images stacked) on a GPU
        (:func:`~mmfusion.evaluation.functional.map_fusion_metrics`). A
        sample that cannot be measured raises, and no sample of the batch is
        kept."""
        rows = []
        for sample, outcome in map_fusion_metrics(
                self._load,
                data_samples,
                self.metrics,
                device=self._device(),
                batch_size=max(1, len(data_samples)),
                **self.options):
            if isinstance(outcome, BaseException):
                raise outcome
            rows.append(dict(img_id=self._img_id(sample), **outcome[0]))
        self.results.extend(rows)

    def compute_metrics(self, results: List[dict]) -> dict:
        """Mean of each metric over the images (``inf`` propagates: a PSNR
        of +inf, i.e. MSE = 0, makes the mean +inf)."""
        logger = MMLogger.get_current_instance()
        summary = {
            m: float(np.mean([r[m] for r in results]))
            for m in self.metrics
        }
        logger.info('fusion metrics over %d images: %s', len(results),
                    ', '.join(f'{k}={v:.4f}' for k, v in summary.items()))
        if self.per_image_file:
            self._dump(results)
        return summary

    def _dump(self, results: List[dict]) -> None:
        path = self.per_image_file
        os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
        if path.endswith('.json'):
            with open(path, 'w') as f:
                json.dump(results, f, indent=1)
            return
        with open(path, 'w', newline='') as f:
            writer = csv.DictWriter(f, ['img_id', *self.metrics])
            writer.writeheader()
            writer.writerows(results)
