# Copyright (c) mmfusion contributors. All rights reserved.
"""Speed of mmfusion's fusion metrics against a plain per-image numpy
implementation of the same definitions, on real 640x480 MSRS pairs.

Example::

    python tools/analysis_tools/benchmark_metrics.py --threads 1

prints seconds per image (wall clock and process CPU time) of
``mmfusion.evaluation.functional.compute_fusion_metrics`` and of
``mmfusion.testing.numpy_reference`` for the de facto set
(12 metrics) and the full set (+ Nabf, MS-SSIM), their ratio, and the ratio
of each set against the de facto evaluator's own time for its 12 metrics
(``seconds_per_image`` in the reference JSON, ~1.9 s). CPU time is reported
because wall time is inflated on a shared machine; on an idle one the two
agree (1 thread).
"""
import argparse
import json
import os.path as osp
import time

import numpy as np
import torch

import mmfusion  # noqa: F401
from mmfusion.datasets.pairing import index_images, pair_folders
from mmfusion.evaluation.functional import (ALL_METRICS, DE_FACTO_METRICS,
                                            compute_fusion_metrics,
                                            parse_metric_names, read_gray)
from mmfusion.testing import numpy_reference as nr

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SHARED = osp.join(osp.dirname(REPO), 'shared')
DEFAULT_FUSED = osp.join(SHARED, 'reference', 'seafusion', 'fused')
DEFAULT_SOURCES = osp.join(SHARED, 'testdata', 'msrs_mini', 'test')
DEFAULT_JSON = osp.join(SHARED, 'reference', 'seafusion',
                        'metrics_msrs_mini_test.json')


def parse_args():
    parser = argparse.ArgumentParser(description='Benchmark fusion metrics')
    parser.add_argument('--fused', default=DEFAULT_FUSED)
    parser.add_argument('--ir', default=osp.join(DEFAULT_SOURCES, 'ir'))
    parser.add_argument('--vi', default=osp.join(DEFAULT_SOURCES, 'vi'))
    parser.add_argument(
        '--reference-json',
        default=DEFAULT_JSON,
        help='JSON with the de facto evaluator\'s seconds_per_image')
    parser.add_argument(
        '--num-images', type=int, default=16, help='images for mmfusion')
    parser.add_argument(
        '--num-ref-images',
        type=int,
        default=3,
        help='images for the (slow) numpy reference')
    parser.add_argument(
        '--batch-size',
        type=int,
        default=None,
        help='images per call (default: all; compute_fusion_metrics chunks '
        'them itself)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--threads',
        type=int,
        default=None,
        help='CPU threads (images computed in parallel; default: torch\'s '
        'thread count)')
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument(
        '--per-metric', action='store_true', help='time every metric alone')
    parser.add_argument('--metrics', default='all')
    return parser.parse_args()


def _clock():
    return time.perf_counter(), time.process_time()


def _since(start):
    wall, cpu = _clock()
    return wall - start[0], cpu - start[1]


def time_mmfusion(f, a, b, metrics, batch_size, device, repeat):
    """Best of ``repeat`` (wall, cpu) seconds per image."""
    n = len(f)
    tensors = [torch.from_numpy(x).to(device) for x in (f, a, b)]
    compute_fusion_metrics(*(t[:1] for t in tensors), metrics)  # warm up
    best = (float('inf'), float('inf'))
    for _ in range(repeat):
        if device.startswith('cuda'):
            torch.cuda.synchronize()
        start = _clock()
        for i in range(0, n, batch_size):
            out = compute_fusion_metrics(
                *(t[i:i + batch_size] for t in tensors), metrics)
        if device.startswith('cuda'):
            torch.cuda.synchronize()
        wall, cpu = _since(start)
        best = (min(best[0], wall / n), min(best[1], cpu / n))
    del out
    return best


def time_numpy(f, a, b, metrics):
    start = _clock()
    values = [nr.compute_all(f[i], a[i], b[i], metrics) for i in range(len(f))]
    wall, cpu = _since(start)
    return (wall / len(f), cpu / len(f)), values


def main():
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    metrics = parse_metric_names(args.metrics)
    # mmfusion's one pairing rule (mmfusion.datasets.pairing), as
    # eval_fused.py pairs fused images with their sources
    pairs = pair_folders(args.ir, args.vi, unmatched='warn')
    fused = index_images(args.fused, 'fused image')
    names = [n for n in pairs.names if n in fused]
    names = names[:max(args.num_images, args.num_ref_images)]
    f, a, b = (
        np.stack([read_gray(index[n]) for n in names])
        for index in (fused, pairs.ir, pairs.vis))
    h, w = f.shape[1:]
    batch = args.batch_size or len(names)
    print(f'{len(names)} real pairs of {w}x{h}, device {args.device}, '
          f'{torch.get_num_threads()} CPU thread(s), batch {batch}')

    sets = [('de facto (12)', tuple(m for m in DE_FACTO_METRICS
                                    if m in metrics)), ('full (14)', metrics)]
    if metrics != ALL_METRICS:
        sets = [('selected', metrics)]
    evaluator_s = None
    if osp.isfile(args.reference_json):
        with open(args.reference_json) as fh:
            per_metric = json.load(fh).get('seconds_per_image', {})
        evaluator_s = sum(per_metric.values()) or None

    # mmfusion: the sets timed in interleaved rounds, best round kept (the
    # machine may be shared; a slow round says nothing about the code)
    n = args.num_images
    best = {label: (float('inf'), float('inf')) for label, _ in sets}
    for _ in range(args.repeat):
        for label, subset in sets:
            t = time_mmfusion(f[:n], a[:n], b[:n], subset, batch, args.device,
                              1)
            best[label] = (min(best[label][0],
                               t[0]), min(best[label][1], t[1]))
    rows = []
    m = args.num_ref_images
    for label, subset in sets:
        ref, ref_values = time_numpy(f[:m], a[:m], b[:m], subset)
        got = compute_fusion_metrics(f[:m], a[:m], b[:m], subset)
        err = max(
            abs(float(got[k][i]) - v[k]) / max(abs(v[k]), 1e-12)
            for i, v in enumerate(ref_values) for k in subset)
        rows.append((label, best[label], ref, err))

    print()
    print('| metrics | mmfusion s/img (wall / CPU) | numpy reference s/img '
          '(wall / CPU) | speed-up (wall / CPU) | max rel. diff |')
    print('|---|---|---|---|---|')
    for label, mm, ref, err in rows:
        print(f'| {label} | {mm[0]:.4f} / {mm[1]:.4f} | {ref[0]:.3f} / '
              f'{ref[1]:.3f} | {ref[0] / mm[0]:.1f}x / {ref[1] / mm[1]:.1f}x '
              f'| {err:.1e} |')
    if evaluator_s:
        print(f'\nde facto evaluator (reference JSON): {evaluator_s:.3f} '
              's/img for its 12 metrics (target: mmfusion 20x faster)')
        for label, mm, _, _ in rows:
            print(f'  mmfusion, {label}: {evaluator_s / mm[0]:.1f}x faster '
                  f'by wall clock, {evaluator_s / mm[1]:.1f}x by CPU time')

    if args.per_metric:
        print('\n| metric | mmfusion ms/img (wall / CPU) |')
        print('|---|---|')
        for m in metrics:
            t = time_mmfusion(f[:args.num_images], a[:args.num_images],
                              b[:args.num_images], [m], batch, args.device,
                              args.repeat)
            print(f'| {m} | {1e3 * t[0]:.1f} / {1e3 * t[1]:.1f} |')


if __name__ == '__main__':
    main()
