# Copyright (c) mmfusion contributors. All rights reserved.
"""How the fusion metrics are run: batches, chunks, threads, loading in
parallel, and the opt-in allocator tuning.

:func:`compute_fusion_metrics` measures a batch of images (in chunks, on
CPU in parallel threads with single-threaded torch/OpenCV ops);
:func:`map_fusion_metrics` loads and measures item after item, loading and
measuring in parallel (the one batching implementation of
:class:`~mmfusion.evaluation.FusionMetric` and the folder evaluation). The
maths and the table of the metrics are
:mod:`~mmfusion.evaluation.functional.fusion_metrics`; nothing here changes
a value.
"""
from collections import defaultdict, deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import (Any, Callable, Dict, Iterable, Iterator, List, Optional,
                    Sequence, Tuple, Union)

import cv2
import numpy as np
import torch
from torch import Tensor

from mmfusion.utils.malloc import keep_freed_memory
from .fusion_metrics import (ALL_METRICS, DEFAULT_OPTIONS, METRICS,
                             canonical_metric_name, metrics_of_batch)

__all__ = ['compute_fusion_metrics', 'map_fusion_metrics']


def _as_batch(x, name: str, device) -> Tensor:
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(np.ascontiguousarray(x))
    if not isinstance(x, Tensor):
        raise TypeError(f'{name} must be a tensor or an array, got '
                        f'{type(x).__name__}')
    if x.dim() == 2:
        x = x[None]
    if x.dim() == 4 and x.shape[1] == 1:
        x = x[:, 0]
    if x.dim() != 3:
        raise ValueError(f'{name} must be (H, W), (N, H, W) or (N, 1, H, W) '
                         f'gray images, got shape {tuple(x.shape)}')
    if device is not None:
        x = x.to(device)
    return x.double()


def compute_fusion_metrics(fused,
                           ir,
                           vis,
                           metrics: Sequence[str] = ALL_METRICS,
                           device: Optional[Union[str, torch.device]] = None,
                           chunk_size: Optional[int] = None,
                           num_workers: Optional[int] = None,
                           **options) -> Dict[str, Tensor]:
    """Compute fusion metrics of a batch of gray images.

    Args:
        fused, ir, vis: ``(N, H, W)`` (or ``(H, W)``, ``(N, 1, H, W)``)
            tensors or arrays on the 0-255 scale, the same shape; use
            :mod:`~mmfusion.evaluation.functional.image_io` to get them from
            files or from the model's output exactly as the de facto
            evaluator does. ``ir``/``vis`` may be ``None`` when only EN, SD,
            SF and AG are requested.
        metrics: names from :data:`ALL_METRICS` (aliases such as
            ``'MS-SSIM'`` accepted).
        device: where to compute (default: where ``fused`` is).
        chunk_size: images computed together; default 1 on CPU (the working
            set of one 640x480 image fits the caches, larger chunks run
            slower per image) and all of them on GPU.
        num_workers: CPU threads computing chunks in parallel (default:
            torch's intra-op thread count); on CPU the torch ops themselves
            run single-threaded during the call.
        **options: convention switches, see :data:`DEFAULT_OPTIONS` and
            ``docs/evaluation.md``.

    Returns:
        dict: metric name -> ``(N,)`` float64 tensor (on ``device``).
    """
    unknown = set(options) - set(DEFAULT_OPTIONS)
    if unknown:
        raise TypeError(f'unknown metric options {sorted(unknown)}; '
                        f'available: {sorted(DEFAULT_OPTIONS)}')
    opts = {**DEFAULT_OPTIONS, **options}
    names = [canonical_metric_name(m) for m in metrics]
    f = _as_batch(fused, 'fused', device)
    a = b = None
    if any(METRICS[m].needs_sources for m in names):
        a = _as_batch(ir, 'ir', f.device)
        b = _as_batch(vis, 'vis', f.device)
        if a.shape != f.shape or b.shape != f.shape:
            raise ValueError(
                f'fused {tuple(f.shape)}, IR {tuple(a.shape)} and VIS '
                f'{tuple(b.shape)} images must have the same shape')
    if chunk_size is None:
        chunk_size = len(f) if f.is_cuda else 1
    slices = [
        slice(i, i + max(1, chunk_size))
        for i in range(0, len(f), max(1, chunk_size))
    ]

    def run(sl):
        return metrics_of_batch(f[sl], None if a is None else a[sl],
                                None if b is None else b[sl], names, opts)

    if f.is_cuda:
        chunks = [run(sl) for sl in slices]
        return {m: torch.cat([c[m] for c in chunks]) for m in names}
    with _images_in_threads(num_workers) as workers:
        workers = min(workers, len(slices))
        if workers > 1:
            with ThreadPoolExecutor(workers) as pool:
                chunks = list(pool.map(run, slices))
        else:
            chunks = [run(sl) for sl in slices]
    return {m: torch.cat([c[m] for c in chunks]) for m in names}


@contextmanager
def _images_in_threads(num_workers: Optional[int] = None) -> Iterator[int]:
    """CPU: single-threaded torch ops, images in parallel threads. One image
    is too small for intra-op threads to pay off, and their per-op
    synchronisation is very costly on a busy machine; whole images in
    separate threads need none (torch and OpenCV release the GIL in their
    ops). Yields the number of image threads to use (``num_workers``,
    default: torch's intra-op thread count) while torch and OpenCV run
    single-threaded."""
    keep_freed_memory()  # opt-in: MMFUSION_KEEP_FREED_MEMORY=1
    threads = torch.get_num_threads()
    cv_threads = cv2.getNumThreads()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)  # OpenCV filters large images in parallel too
    try:
        yield max(1, num_workers or threads)
    finally:
        torch.set_num_threads(threads)
        cv2.setNumThreads(cv_threads)


#: what ``load`` of :func:`map_fusion_metrics` returns per entry
Triple = Tuple[np.ndarray, Optional[np.ndarray], Optional[np.ndarray]]
#: an entry's outcome: the metric values, or the exception passed through
Outcome = Union[Dict[str, float], BaseException]


def map_fusion_metrics(
        load: Callable[[Any], Sequence[Union[Triple, BaseException]]],
        items: Iterable,
        metrics: Sequence[str] = ALL_METRICS,
        device: Optional[Union[str, torch.device]] = None,
        num_workers: Optional[int] = None,
        batch_size: int = 8,
        **options
) -> Iterator[Tuple[Any, Union[List[Outcome], BaseException]]]:
    """Load and measure images, one item after another, loading and
    measuring in parallel; yields ``(item, outcome)`` in the order of
    ``items``.

    The one batching implementation of the metric consumers
    (:class:`~mmfusion.evaluation.FusionMetric` and
    :func:`mmfusion.apis.folder_evaluation.evaluate_fused_folders`).

    ``load(item)`` returns the item's entries: ``(fused, ir, vis)`` gray
    images as :func:`compute_fusion_metrics` takes them (``(H, W)`` arrays;
    ``ir``/``vis`` may be ``None`` for reference-free metrics), or an
    exception instance, passed through (e.g. one method's fused image that
    cannot be read, while the item's others can). ``outcome`` is the list of
    the entries' outcomes (a dict metric name -> float, or the exception),
    or the exception that ``load`` raised (an ``Exception``; other
    exceptions and errors of the metrics propagate).

    On CPU every item is loaded and measured in one thread of a pool of
    ``num_workers`` (default: torch's intra-op thread count), one image at a
    time with single-threaded torch/OpenCV ops (see
    :func:`compute_fusion_metrics`): decoding (OpenCV releases the GIL)
    overlaps with the metrics, and at most ``2 * num_workers`` items are in
    flight. While the generator is suspended, torch runs single-threaded.
    On another device (a GPU) the items are loaded in ``num_workers``
    threads (default 2) and the images of up to ``batch_size`` entries
    measured together, those of one size stacked.

    Values are those of :func:`compute_fusion_metrics` (per image on CPU,
    its CPU default too).
    """
    names = tuple(canonical_metric_name(m) for m in metrics)
    if device is not None and torch.device(device).type != 'cpu':
        yield from _map_batched(load, items, names, device, num_workers,
                                batch_size, options)
        return

    def measure(item):
        try:
            entries = load(item)
        except Exception as e:  # the caller decides: raise, skip ...
            return e
        out = []
        for entry in entries:
            if isinstance(entry, BaseException):
                out.append(entry)
                continue
            values = compute_fusion_metrics(
                *(None if x is None else x[None] for x in entry),
                names,
                num_workers=1,
                **options)
            out.append({m: float(values[m][0]) for m in names})
        return out

    with _images_in_threads(num_workers) as workers:
        if workers == 1:
            for item in items:
                yield item, measure(item)
            return
        yield from _in_order(measure, items, workers)


def _in_order(fn: Callable, items: Iterable, workers: int) -> Iterator:
    """``(item, fn(item))`` in the order of ``items``, ``fn`` running in
    ``workers`` threads with at most ``2 * workers`` items in flight."""
    it = iter(items)
    pending: deque = deque()
    with ThreadPoolExecutor(workers) as pool:
        try:
            for item in it:
                pending.append((item, pool.submit(fn, item)))
                if len(pending) >= 2 * workers:
                    break
            while pending:
                item, future = pending.popleft()
                result = future.result()
                for nxt in it:
                    pending.append((nxt, pool.submit(fn, nxt)))
                    break
                yield item, result
        finally:
            for _, future in pending:  # the consumer stopped early
                future.cancel()


def _map_batched(load, items, names, device, num_workers, batch_size,
                 options) -> Iterator:
    """:func:`map_fusion_metrics` on a GPU: items loaded in threads, the
    entries of up to ``batch_size`` images measured together (images of
    the same size stacked)."""

    def safe_load(item):
        try:
            return list(load(item))
        except Exception as e:
            return e

    window: list = []  # [item, entries or the exception load raised]

    def flush():
        groups = defaultdict(list)  # image shape -> [(entry list, index)]
        for _, entries in window:
            if not isinstance(entries, BaseException):
                for j, entry in enumerate(entries):
                    if not isinstance(entry, BaseException):
                        groups[entry[0].shape].append((entries, j))
        for members in groups.values():
            stacked = [
                None if members[0][0][members[0][1]][k] is None else np.stack(
                    [entries[j][k] for entries, j in members])
                for k in range(3)
            ]
            values = compute_fusion_metrics(
                *stacked, names, device=device, **options)
            values = {m: values[m].cpu().tolist() for m in names}
            for n, (entries, j) in enumerate(members):
                entries[j] = {m: values[m][n] for m in names}
        yield from window
        window.clear()

    count = 0
    workers = max(1, num_workers or 2)
    for item, entries in _in_order(safe_load, items, workers):
        window.append((item, entries))
        if not isinstance(entries, BaseException):
            count += len(entries)
        if count >= batch_size:
            yield from flush()
            count = 0
    yield from flush()
