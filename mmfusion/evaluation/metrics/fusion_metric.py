# Copyright (c) mmfusion contributors. All rights reserved.
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from mmfusion.registry import METRICS
from mmfusion.utils import rgb_to_gray, to_uint8


def entropy(f: torch.Tensor) -> torch.Tensor:
    """EN: Shannon entropy (bits) of the 256-level histogram of ``f`` (integer
    valued, 0-255)."""
    hist = torch.bincount(f.flatten().long(), minlength=256).double()
    p = hist[hist > 0] / f.numel()
    return -(p * torch.log2(p)).sum()


def standard_deviation(f: torch.Tensor) -> torch.Tensor:
    """SD: population standard deviation (ddof = 0)."""
    return f.double().std(unbiased=False)


def spatial_frequency(f: torch.Tensor) -> torch.Tensor:
    """SF = sqrt(mean(horizontal diff^2) + mean(vertical diff^2))."""
    f = f.double()
    rf = (f[:, 1:] - f[:, :-1]).pow(2).mean()
    cf = (f[1:, :] - f[:-1, :]).pow(2).mean()
    return torch.sqrt(rf + cf)


_NO_REFERENCE = dict(EN=entropy, SD=standard_deviation, SF=spatial_frequency)


@METRICS.register_module()
class FusionMetric(BaseMetric):
    """Statistical fusion metrics of the fused images, in the de facto
    convention of the field (``docs/metrics.md``): each fused RGB image is
    quantised to uint8 exactly as it is saved, converted to gray with OpenCV's
    weights and rounded, then measured on the 0-255 scale.

    Args:
        metrics: names of the metrics to compute.
        collect_device / prefix: see :class:`mmengine.evaluator.BaseMetric`.
    """

    default_prefix: Optional[str] = 'fusion'

    def __init__(self,
                 metrics: Sequence[str] = ('EN', 'SD', 'SF'),
                 rounding: str = 'round',
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        unknown = set(metrics) - set(_NO_REFERENCE)
        if unknown:
            raise KeyError(f'unknown fusion metrics {sorted(unknown)}; '
                           f'available: {sorted(_NO_REFERENCE)}')
        self.metrics = tuple(metrics)
        self.rounding = rounding

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            rgb = to_uint8(sample['pred_fused']['data'], self.rounding)
            fused = torch.from_numpy(rgb_to_gray(rgb, np.float64))
            self.results.append({
                name: float(_NO_REFERENCE[name](fused))
                for name in self.metrics
            })

    def compute_metrics(self, results: List[Dict[str, float]]) -> dict:
        logger = MMLogger.get_current_instance()
        summary = {
            name: float(np.mean([r[name] for r in results]))
            for name in self.metrics
        }
        logger.info('fusion metrics over %d images: %s', len(results),
                    ', '.join(f'{k}={v:.4f}' for k, v in summary.items()))
        return summary
