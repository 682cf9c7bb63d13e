# Copyright (c) mmfusion contributors. All rights reserved.
"""Fusion metric functions (torch, batched) and image loading as the de facto
evaluator does it: the maths and the table of the metrics
(:mod:`.fusion_metrics`), how they are run over batches and threads
(:mod:`.batching`). :mod:`mmfusion.testing.numpy_reference` holds a plain
per-image numpy version of the same definitions for cross-checks and
benchmarks."""
from .batching import compute_fusion_metrics, map_fusion_metrics
from .filters import box_mean_valid, filter_valid
# yapf: disable
from .fusion_metrics import (ALL_METRICS, DE_FACTO_METRICS, DEFAULT_OPTIONS,
                             LOWER_IS_BETTER, METRICS, REFERENCE_FREE_METRICS,
                             MetricSpec, average_gradient,
                             canonical_metric_name, correlation_coefficient,
                             entropy, mean_squared_error, mef_ssim, ms_ssim,
                             mutual_information, nabf, parse_metric_names,
                             psnr, qabf, spatial_frequency, ssim,
                             standard_deviation,
                             sum_of_correlation_differences, vif)
# yapf: enable
from .image_io import bgr_to_gray, fused_to_gray, read_gray, rgb_to_gray
from .paired_stats import (paired_difference, paired_difference_per_class,
                           t_quantile, verdict)

__all__ = [
    'METRICS', 'MetricSpec', 'ALL_METRICS', 'DE_FACTO_METRICS',
    'DEFAULT_OPTIONS', 'LOWER_IS_BETTER', 'REFERENCE_FREE_METRICS',
    'compute_fusion_metrics', 'map_fusion_metrics', 'canonical_metric_name',
    'parse_metric_names', 'entropy', 'standard_deviation', 'spatial_frequency',
    'average_gradient', 'mutual_information', 'sum_of_correlation_differences',
    'correlation_coefficient', 'mean_squared_error', 'psnr', 'vif', 'qabf',
    'nabf', 'ssim', 'mef_ssim', 'ms_ssim', 'filter_valid', 'box_mean_valid',
    'read_gray', 'bgr_to_gray', 'rgb_to_gray', 'fused_to_gray',
    'paired_difference', 'paired_difference_per_class', 't_quantile', 'verdict'
]
