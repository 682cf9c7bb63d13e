# Copyright (c) mmfusion contributors. All rights reserved.
import csv
import json
import os
import os.path as osp
from collections import defaultdict
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from mmfusion.registry import METRICS
from ..functional import (DEFAULT_OPTIONS, REFERENCE_FREE_METRICS,
                          compute_fusion_metrics, fused_to_gray,
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

    def _load(self, sample) -> dict:
        fused = _pixel_data(_sample_get(sample, 'pred_fused'))
        if fused is None:
            fused = _pixel_data(_sample_get(sample, 'pred_fused_y'))
        if fused is None:
            raise KeyError('FusionMetric needs `pred_fused` (or '
                           '`pred_fused_y`) in the data samples; is the model '
                           'a fusion model in predict mode?')
        img_id = _sample_get(sample, 'img_id')
        item = dict(fused=fused_to_gray(fused, self.rounding))
        ir_path = _sample_get(sample, 'ir_path')
        vis_path = _sample_get(sample, 'vis_path')
        if img_id is None:
            img_id = osp.splitext(osp.basename(ir_path or vis_path or ''))[0]
        item['img_id'] = img_id
        if not self._needs_refs:
            return item
        if ir_path is None or vis_path is None:
            raise KeyError(
                f'sample {img_id!r} has no `ir_path`/`vis_path` metainfo; '
                'the reference-based fusion metrics read the sources from '
                f'them (or restrict `metrics` to {REFERENCE_FREE_METRICS})')
        item['ir'] = read_gray(ir_path, self.backend_args)
        item['vis'] = read_gray(vis_path, self.backend_args)
        for key, path in (('ir', ir_path), ('vis', vis_path)):
            if item[key].shape != item['fused'].shape:
                h, w = item['fused'].shape
                rh, rw = item[key].shape
                raise ValueError(
                    f'the fused image of {img_id!r} is {w}x{h} but its '
                    f'{key.upper()} source {path} is {rw}x{rh}: FusionMetric '
                    'compares the fused image with the original files, so '
                    'the test pipeline must not resize or crop the pairs')
        return item

    def process(self, data_batch, data_samples: Sequence) -> None:
        """Measure every sample of the batch (samples of the same size are
        computed together)."""
        items = [self._load(s) for s in data_samples]
        groups: Dict[tuple, List[int]] = defaultdict(list)
        for i, item in enumerate(items):
            groups[item['fused'].shape].append(i)
        rows: List[Optional[dict]] = [None] * len(items)
        device = self._device()
        for indices in groups.values():
            fused = np.stack([items[i]['fused'] for i in indices])
            ir = vis = None
            if self._needs_refs:
                ir = np.stack([items[i]['ir'] for i in indices])
                vis = np.stack([items[i]['vis'] for i in indices])
            values = compute_fusion_metrics(
                fused, ir, vis, self.metrics, device=device, **self.options)
            for j, i in enumerate(indices):
                rows[i] = dict(img_id=items[i]['img_id'])
                rows[i].update({m: float(values[m][j]) for m in self.metrics})
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
