# Copyright (c) mmfusion contributors. All rights reserved.
"""Fuse IR/VIS pairs with a trained model from Python (and ``tools/fuse.py``).
"""
import copy
import itertools
import os.path as osp
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Iterator, List, Optional, Sequence, Tuple, Union

import cv2
import mmcv
import numpy as np
import torch
from mmcv.transforms import BaseTransform, Compose
from mmengine.config import Config, ConfigDict
from mmengine.infer import BaseInferencer
from mmengine.registry import DefaultScope
from mmengine.utils import ProgressBar

from mmfusion.datasets.checks import UnreadableImageError
from mmfusion.datasets.pairing import pair_folders
from mmfusion.registry import INFERENCERS, TRANSFORMS
from mmfusion.utils import to_uint8
from mmfusion.utils.fileio import atomic_path

ImageInput = Union[str, np.ndarray]
PairInput = Union[ImageInput, Sequence[ImageInput]]

__all__ = ['FusionInferencer', 'collect_pairs']

RAW_FORMATS = ('npy', 'png16')
ON_ERROR = ('raise', 'skip')

# what reading a pair can raise for that pair alone (an unreadable or
# damaged file, sizes that differ, an unsupported image): with
# on_error='skip' the pair is reported and the others are fused
PAIR_ERRORS = (ValueError, OSError, cv2.error)


def collect_pairs(ir: str, vis: str) -> List[Tuple[str, str, str]]:
    """``[(name, ir_path, vis_path)]`` from two files or two folders (pairs
    are the image names present in both folders; images without a partner
    are left out with a warning: :func:`mmfusion.datasets.pairing.
    pair_folders`)."""
    if osp.isfile(ir) and osp.isfile(vis):
        return [(osp.splitext(osp.basename(ir))[0], ir, vis)]
    for path in (ir, vis):
        if not osp.exists(path):
            raise FileNotFoundError(f'{path} does not exist')
    if not (osp.isdir(ir) and osp.isdir(vis)):
        raise ValueError(f'--ir {ir} and --vi {vis} must both be files or '
                         'both be folders')
    return pair_folders(ir, vis, unmatched='warn').files()


class _LoadPairFromArrays(BaseTransform):
    """In-memory counterpart of ``LoadPairedImageFromFile``: ``ir_img``
    (H, W[, 1|3]) and ``vis_img`` (H, W, 3 BGR, or gray) uint8 arrays ->
    the same ``img`` (VIS BGR + IR) and keys."""

    def transform(self, results: dict) -> dict:
        ir = np.asarray(results.pop('ir_img'))
        vis = np.asarray(results.pop('vis_img'))
        for name, img in (('IR', ir), ('VIS', vis)):
            if img.dtype != np.uint8:
                raise ValueError(f'{name} array must be uint8, got '
                                 f'{img.dtype}')
        if ir.ndim == 3:
            ir = ir[..., :1] if ir.shape[2] == 1 or (
                np.array_equal(ir[..., 0], ir[..., 1])
                and np.array_equal(ir[..., 1], ir[..., 2])) else \
                mmcv.bgr2gray(ir[..., :3])[..., None]
        else:
            ir = ir[..., None]
        gray = vis.ndim == 2 or vis.shape[2] == 1
        vis = np.repeat(vis.reshape(*vis.shape[:2], 1), 3, 2) if gray \
            else vis[..., :3]
        if ir.shape[:2] != vis.shape[:2]:
            raise ValueError(
                f'pair {results.get("img_id")!r}: the IR array is '
                f'{ir.shape[1]}x{ir.shape[0]} but the VIS array is '
                f'{vis.shape[1]}x{vis.shape[0]}')
        results['img'] = np.ascontiguousarray(np.concatenate([vis, ir], 2))
        results['img_shape'] = results['ori_shape'] = results['img'].shape[:2]
        results['vis_is_gray'] = gray
        return results


def _write_atomic(path: str, img: np.ndarray) -> str:
    """Write ``img`` (``.png`` through OpenCV, ``.npy`` through numpy) so
    that the file is whole or absent (:func:`~mmfusion.utils.fileio.
    atomic_path`)."""
    with atomic_path(path) as tmp:
        if path.endswith('.npy'):
            np.save(tmp, img)
        elif not cv2.imwrite(tmp, np.ascontiguousarray(img)):
            raise OSError(f'cannot write {path}')
    return path


@INFERENCERS.register_module(name='fusion')
@INFERENCERS.register_module()
class FusionInferencer(BaseInferencer):
    """Fuse infrared/visible pairs with a trained fusion model.

    The model's own test pipeline (``LoadPairedImageFromFile`` ...
    ``PackFusionInputs``, annotation loading dropped) and data preprocessor
    run exactly as in validation, so inference gives the images validation
    measures.

    Examples:
        >>> fuser = FusionInferencer('configs/seafusion/seafusion_msrs.py',
        ...                          'iter_680.pth', device='cpu')
        >>> out = fuser('ir/00001D.png', 'vi/00001D.png')
        >>> out['predictions'][0]['fused'].shape     # RGB uint8
        (480, 640, 3)
        >>> fuser('data/MSRS/test/ir', 'data/MSRS/test/vi', out_dir='out')

    Args:
        model: config file, ``Config`` or dict of the model.
        weights: checkpoint path.
        device: ``'cpu'``, ``'cuda:0'`` ... (default: the best available).
        colour: override the model's colour policy (``'vis'``,
            ``'saturation'``, ``'gray'``).
        output_norm: override the model's output normalisation (``'clip'``,
            ``'minmax'``).
        scope: registry scope (``'mmfusion'``).
        show_progress: progress bar over the pairs.
        backend: how the fusion net runs: ``'pytorch'`` or
            ``'onnxruntime'`` (see :mod:`mmfusion.apis.inference_backends`).
        precision: ``'fp32'`` (default), or ``'bf16'`` / ``'fp16'`` under
            autocast (PyTorch backend; the fused Y moves by under one grey
            level, up to ~3 after a per-image min-max stretch).
        compile: PyTorch backend: run the net through ``torch.compile``
            (default: as the config's ``compile_inference`` says).
    """

    preprocess_kwargs: set = set()
    forward_kwargs: set = set()
    visualize_kwargs: set = {'vis_out_dir'}
    postprocess_kwargs: set = {
        'out_dir', 'rounding', 'raw', 'raw_channels', 'return_images'
    }

    def __init__(self,
                 model: Union[str, Config, ConfigDict, dict],
                 weights: Optional[str] = None,
                 device: Optional[str] = None,
                 colour: Optional[str] = None,
                 output_norm: Optional[str] = None,
                 scope: Optional[str] = 'mmfusion',
                 show_progress: bool = True,
                 backend: str = 'pytorch',
                 precision: str = 'fp32',
                 compile: Optional[bool] = None) -> None:
        from mmfusion.utils.checkpoint import (check_checkpoint_file,
                                               mmengine_checkpoint_globals)
        self._visualizer_lock = threading.Lock()
        if weights is not None:
            check_checkpoint_file(weights)  # a damaged file named

        # mmengine's BaseInferencer builds the model, pipeline and collate
        # function in whatever scope is current (none in a plain script):
        # build them in ours, without changing the caller's default scope;
        # its checkpoint is read with mmengine's objects allow-listed
        with DefaultScope.overwrite_default_scope(scope), \
                mmengine_checkpoint_globals():
            super().__init__(
                model=model,
                weights=weights,
                device=device,
                scope=scope,
                show_progress=show_progress)
        if colour is not None:
            self._override('colour', colour)
        if output_norm is not None:
            from mmfusion.utils import normalize_output
            normalize_output(torch.zeros(1, 1, 1, 1), output_norm)
            self._override('output_norm', output_norm)
        from .inference_backends import build_inference_net
        self.backend, self.precision = backend, precision
        self.model.fusion_net = build_inference_net(
            self.model.fusion_net,
            backend=backend,
            precision=precision,
            device=str(next(self.model.parameters()).device),
            compile=compile)

    def _override(self, attr: str, value: str) -> None:
        if not hasattr(self.model, attr):
            raise ValueError(f'{type(self.model).__name__} has no `{attr}` '
                             'setting to override')
        if attr == 'colour':
            from mmfusion.utils.colour import COLOUR_POLICIES
            if value not in COLOUR_POLICIES:
                raise ValueError(f'colour must be one of {COLOUR_POLICIES}, '
                                 f'got {value!r}')
        setattr(self.model, attr, value)

    # ------------------------------------------------------------------
    # initialisation
    # ------------------------------------------------------------------
    def _init_pipeline(self, cfg: Config) -> Compose:
        pipeline_cfg = None
        for key in ('test_dataloader', 'val_dataloader'):
            loader = cfg.get(key)
            if loader and loader.get('dataset', {}).get('pipeline'):
                pipeline_cfg = loader.dataset.pipeline
                break
        if pipeline_cfg is None:
            pipeline_cfg = cfg.get('test_pipeline') or [
                dict(type='LoadPairedImageFromFile'),
                dict(type='PackFusionInputs')
            ]
        # no labels at inference time
        pipeline_cfg = [
            copy.deepcopy(t) for t in pipeline_cfg
            if not str(t['type']).split('.')[-1].startswith('LoadAnnotation')
        ]
        if not str(
                pipeline_cfg[0]['type']).endswith('LoadPairedImageFromFile'):
            raise ValueError(
                'the test pipeline of the config must start with '
                f'LoadPairedImageFromFile, got {pipeline_cfg[0]["type"]}')
        self._file_pipeline = Compose(
            [TRANSFORMS.build(t) for t in pipeline_cfg])
        self._array_pipeline = Compose(
            [_LoadPairFromArrays()] +
            [TRANSFORMS.build(t) for t in pipeline_cfg[1:]])
        return self._run_pipeline

    def _run_pipeline(self, item: dict) -> dict:
        item = dict(item)
        if 'ir_img' in item:
            return self._array_pipeline(item)
        try:
            return self._file_pipeline(item)
        except UnreadableImageError as e:
            # the loader's advice is about a dataset's build-time check,
            # which does not apply here: the file and the reason only
            raise ValueError(e.brief) from e

    @staticmethod
    def _pair_error(item: dict, error: BaseException) -> str:
        """The reason a pair could not be read, naming its file(s)."""
        text = str(error) or type(error).__name__
        paths = [item[k] for k in ('ir_path', 'vis_path') if k in item]
        if not any(p in text for p in paths):
            where = ', '.join(paths) or f'pair {item["img_id"]}'
            text = f'{where}: {type(error).__name__}: {text}'
        return text

    def _init_collate(self, cfg: Config):
        from mmengine.dataset import pseudo_collate
        from mmengine.registry import FUNCTIONS
        collate = cfg.get('test_dataloader', {}).get('collate_fn')
        if collate is None:
            return pseudo_collate
        name = collate['type'] if isinstance(collate, dict) else collate
        return FUNCTIONS.get(name)

    def _init_visualizer(self, cfg: Config):
        # the grids' FusionVisualizer is built on first use
        # (:meth:`_grid_visualizer`), not from the config: a config's
        # visualizer serves training (backends, save_dir)
        return None

    # ------------------------------------------------------------------
    # inputs
    # ------------------------------------------------------------------
    @staticmethod
    def _pair_list(ir: PairInput, vis: PairInput) -> List[dict]:
        if isinstance(ir, str) and isinstance(vis, str):
            return [
                dict(ir_path=i, vis_path=v, img_id=n)
                for n, i, v in collect_pairs(ir, vis)
            ]
        if isinstance(ir, np.ndarray) and isinstance(vis, np.ndarray):
            ir, vis = [ir], [vis]
        if not isinstance(ir, (list, tuple)) or not isinstance(
                vis, (list, tuple)) or len(ir) != len(vis):
            raise TypeError('ir and vis must be two paths (files or '
                            'folders), two arrays, or two lists of the same '
                            'length')
        items = []
        for k, (i, v) in enumerate(zip(ir, vis)):
            if isinstance(i, str) and isinstance(v, str):
                items.append(
                    dict(
                        ir_path=i,
                        vis_path=v,
                        img_id=osp.splitext(osp.basename(i))[0]))
            elif isinstance(i, np.ndarray) and isinstance(v, np.ndarray):
                items.append(dict(ir_img=i, vis_img=v, img_id=f'{k:06d}'))
            else:
                raise TypeError(f'pair {k}: give two paths or two uint8 '
                                'arrays (VIS in BGR order)')
        return items

    # ------------------------------------------------------------------
    # running
    # ------------------------------------------------------------------
    def __call__(self,
                 ir: PairInput,
                 vis: PairInput,
                 return_datasamples: bool = False,
                 batch_size: int = 1,
                 **kwargs) -> dict:
        """Fuse pairs and return every result (for a large folder written
        to ``out_dir``, :meth:`stream` keeps memory flat).

        Args:
            ir, vis: two image files, two folders (pairs by file name), two
                uint8 arrays (VIS in BGR order, as OpenCV reads it) or two
                lists of either.
            return_datasamples: return the predicted
                :class:`~mmfusion.structures.FusionDataSample` objects
                instead of arrays.
            batch_size: pairs per forward (same-size pairs only).
            **kwargs: the options of :meth:`stream` (``out_dir``,
                ``rounding``, ``raw``, ``raw_channels``, ``vis_out_dir``,
                ``return_images``, ``skip_existing``, ``num_workers``,
                ``on_error``).

        Returns:
            dict: ``predictions`` (one dict per pair: ``img_id``, ``fused``
            RGB uint8, ``fused_y`` float32 ``(H, W)`` in [0, 1], and
            ``out_file`` when written; ``skipped=True`` for a pair whose
            output existed; only ``img_id`` and ``error`` for a pair that
            could not be read, with ``on_error='skip'``) and
            ``visualization`` (grid paths).
        """
        entries = list(
            self.stream(
                ir,
                vis,
                batch_size=batch_size,
                return_datasamples=return_datasamples,
                **kwargs))
        grids = [e['vis_file'] for e in entries if 'vis_file' in e]
        if return_datasamples:
            predictions = [
                e['datasample'] for e in entries if 'datasample' in e
            ]
        else:
            predictions = [{
                k: v
                for k, v in e.items() if k != 'vis_file'
            } for e in entries]
        return dict(
            predictions=predictions,
            visualization=grids if kwargs.get('vis_out_dir') else None)

    def stream(self,
               ir: PairInput,
               vis: PairInput,
               batch_size: int = 1,
               out_dir: Optional[str] = None,
               rounding: str = 'round',
               raw: Optional[str] = None,
               raw_channels: str = 'rgb',
               vis_out_dir: Optional[str] = None,
               return_images: bool = True,
               return_datasamples: bool = False,
               skip_existing: bool = False,
               num_workers: Optional[int] = None,
               max_pending: int = 2,
               on_error: str = 'raise') -> Iterator[dict]:
        """Fuse pairs, yielding one result per pair as soon as it is fused
        and written (in input order).

        Reading, fusing and writing overlap: ``num_workers`` reader threads
        decode and preprocess the next pairs while the net runs (default:
        one when there is more than one batch) and a writer thread encodes
        and writes the previous ones (at most ``max_pending`` batches wait
        for it), so memory does not grow with the number of pairs. Each file
        is written under a temporary name and renamed when complete: an
        interrupted run
        leaves only whole images, and ``skip_existing`` resumes it.

        Args:
            ir, vis, batch_size: as :meth:`__call__`.
            out_dir: write ``{img_id}.png`` (8-bit, RGB; 1 channel with the
                ``'gray'`` colour policy) there.
            rounding: 8-bit quantisation, ``'round'`` or ``'floor'``.
            raw: also write the unquantised result to ``{out_dir}/raw/``:
                ``'npy'`` (float32) or ``'png16'`` (16-bit PNG).
            raw_channels: ``'rgb'`` (the fused colour image) or ``'y'`` (the
                fused luminance before colour restoration).
            vis_out_dir: write VIS | IR | fused grids there.
            return_images: keep the fused arrays in the results (set False
                for large folders written to ``out_dir``).
            return_datasamples: also give the predicted data sample
                (``'datasample'``).
            skip_existing: pairs whose outputs are all in ``out_dir``
                already are not fused again (yielded with ``skipped=True``).
            num_workers: reader threads (``0``: read between forwards).
            on_error: a pair that cannot be read (a missing, truncated or
                damaged file, IR and VIS of different sizes): ``'raise'``
                (default) stops with a ``ValueError`` naming the file;
                ``'skip'`` yields ``dict(img_id=..., error=REASON)`` for
                it (the reason names the file) and fuses every other pair
                (what ``tools/fuse.py`` does).

        Yields:
            dict: ``img_id``, ``out_file`` / ``raw_file`` / ``vis_file``
            when written, ``fused`` and ``fused_y`` with ``return_images``;
            ``error`` instead for a pair that could not be read
            (``on_error='skip'``).
        """
        if on_error not in ON_ERROR:
            raise ValueError(f'on_error must be one of {ON_ERROR}, got '
                             f'{on_error!r}')
        self._check_output_options(out_dir, rounding, raw, raw_channels)
        items = self._pair_list(ir, vis)
        if skip_existing:
            if not out_dir:
                raise ValueError('skip_existing needs an out_dir')
            todo = []
            for item in items:
                done = self._outputs_of(item['img_id'], out_dir, raw,
                                        vis_out_dir)
                if all(osp.isfile(p) for p in done.values()):
                    yield dict(img_id=item['img_id'], skipped=True, **done)
                else:
                    todo.append(item)
            items = todo
        if not items:
            return
        if num_workers is None:
            num_workers = 1 if len(items) > batch_size else 0
        bar = ProgressBar(
            len(items)) if self.show_progress and len(items) > 1 else None
        write = partial(
            self._write_batch,
            out_dir=out_dir,
            rounding=rounding,
            raw=raw,
            raw_channels=raw_channels,
            vis_out_dir=vis_out_dir,
            return_images=return_images,
            return_datasamples=return_datasamples)
        pending: deque = deque()
        with ThreadPoolExecutor(max_workers=1) as writer:
            try:
                for batch_items, data, failed in self._read(
                        items, batch_size, num_workers, on_error == 'skip'):
                    future = None
                    if data is not None:
                        good = [i for i in batch_items if id(i) not in failed]
                        future = writer.submit(write, good, self.forward(data))
                    pending.append((future, batch_items, failed))
                    while len(pending) > max_pending:
                        yield from self._collect(pending.popleft(), bar)
                while pending:
                    yield from self._collect(pending.popleft(), bar)
            finally:
                for future, _, _ in pending:
                    if future is not None:
                        future.cancel()
        if bar is not None:
            print()

    def _read(self,
              items: list,
              batch_size: int,
              workers: int,
              skip_errors: bool = False) -> Iterator[tuple]:
        """``(items, collated data, failed)`` per batch, in order, where
        ``failed`` maps ``id(item)`` to the reason for the pairs that could
        not be read (``skip_errors``; otherwise their error is raised) and
        the data holds the others (``None`` when none is left); with
        ``workers`` reader threads, up to ``workers + 1`` batches are read
        ahead (image decoding and the pipeline's array work release the GIL,
        so reading overlaps the forward without forking a process that holds
        the net's thread pools)."""
        batches = [
            items[i:i + batch_size] for i in range(0, len(items), batch_size)
        ]

        def load(batch):
            samples, failed = [], {}
            for item in batch:
                try:
                    samples.append(self._run_pipeline(item))
                except PAIR_ERRORS as e:
                    if not skip_errors:
                        raise
                    failed[id(item)] = self._pair_error(item, e)
            return (self.collate_fn(samples) if samples else None), failed

        if not workers:
            for batch in batches:
                yield (batch, *load(batch))
            return
        ahead: deque = deque()
        todo = iter(batches)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            try:
                for batch in itertools.islice(todo, workers + 1):
                    ahead.append((batch, pool.submit(load, batch)))
                while ahead:
                    batch, future = ahead.popleft()
                    data, failed = future.result()
                    following = next(todo, None)
                    if following is not None:
                        ahead.append((following, pool.submit(load, following)))
                    yield batch, data, failed
            finally:
                for _, future in ahead:
                    future.cancel()

    @staticmethod
    def _collect(pending: tuple, bar) -> Iterator[dict]:
        """The entries of one batch in input order: the written pairs'
        (from the writer's ``future``) and the unread pairs' errors."""
        future, items, failed = pending
        written = iter(future.result() if future is not None else ())
        for item in items:
            if id(item) in failed:
                entry = dict(img_id=item['img_id'], error=failed[id(item)])
            else:
                entry = next(written)
            if bar is not None:
                bar.update()
            yield entry

    def _write_batch(self,
                     items: list,
                     preds: list,
                     vis_out_dir=None,
                     return_datasamples: bool = False,
                     **kwargs) -> list:
        grids = self.visualize(items, preds, vis_out_dir=vis_out_dir)
        entries = self.postprocess(preds, grids, False, **kwargs)
        entries = entries['predictions']
        for k, entry in enumerate(entries):
            if grids:
                entry['vis_file'] = grids[k]
            if return_datasamples:
                entry['datasample'] = preds[k]
        return entries

    @staticmethod
    def _outputs_of(name: str, out_dir: str, raw: Optional[str],
                    vis_out_dir: Optional[str]) -> dict:
        out = dict(out_file=osp.join(out_dir, f'{name}.png'))
        if raw:
            ext = '.npy' if raw == 'npy' else '.png'
            out['raw_file'] = osp.join(out_dir, 'raw', name + ext)
        if vis_out_dir:
            out['vis_file'] = osp.join(vis_out_dir, f'{name}.png')
        return out

    @staticmethod
    def _check_output_options(out_dir, rounding, raw, raw_channels) -> None:
        if raw is not None and raw not in RAW_FORMATS:
            raise ValueError(f'raw must be one of {RAW_FORMATS}, got {raw!r}')
        if raw is not None and not out_dir:
            raise ValueError('raw output needs an out_dir')
        if raw_channels not in ('rgb', 'y'):
            raise ValueError(f"raw_channels must be 'rgb' or 'y', got "
                             f'{raw_channels!r}')
        if rounding not in ('round', 'floor'):
            raise ValueError(f"rounding must be 'round' or 'floor', got "
                             f'{rounding!r}')

    def _grid_visualizer(self):
        """The :class:`~mmfusion.visualization.FusionVisualizer` that draws
        the grids, built on first use (fusing without ``vis_out_dir``
        imports no visualizer); no backends: the grids go to files."""
        with self._visualizer_lock:
            if self.visualizer is None:
                from mmfusion.visualization import FusionVisualizer
                self.visualizer = FusionVisualizer(
                    name=f'fusion_inferencer_{id(self):x}')
            return self.visualizer

    def visualize(self,
                  inputs: list,
                  preds: list,
                  vis_out_dir: Optional[str] = None) -> Optional[List[str]]:
        """Write each pair's VIS | IR | fused (| task prediction) grid to
        ``vis_out_dir/{img_id}.png`` (whole or absent) with
        :meth:`FusionVisualizer.add_datasample
        <mmfusion.visualization.FusionVisualizer.add_datasample>`; the
        sources are the arrays given (VIS converted from BGR to RGB) or read
        from the pair's files. Returns the paths."""
        if not vis_out_dir:
            return None
        visualizer = self._grid_visualizer()
        paths = []
        for item, pred in zip(inputs, preds):
            name = pred.metainfo.get('img_id')
            path = osp.join(vis_out_dir, f'{name}.png')
            vis = ir = None
            if 'ir_img' in item:
                vis, ir = item['vis_img'], item['ir_img']
                if vis.ndim == 3 and vis.shape[2] >= 3:
                    vis = vis[..., 2::-1]  # BGR(A) -> RGB
            with self._visualizer_lock:  # one drawing at a time
                visualizer.add_datasample(
                    name, image=vis, data_sample=pred, out_file=path, ir=ir)
            paths.append(path)
        return paths

    def postprocess(self,
                    preds: list,
                    visualization: Optional[List[str]] = None,
                    return_datasamples: bool = False,
                    out_dir: Optional[str] = None,
                    rounding: str = 'round',
                    raw: Optional[str] = None,
                    raw_channels: str = 'rgb',
                    return_images: bool = True) -> dict:
        self._check_output_options(out_dir, rounding, raw, raw_channels)
        gray = getattr(self.model, 'colour', None) == 'gray'
        results = []
        for pred in preds:
            name = pred.metainfo.get('img_id')
            fused = to_uint8(pred.pred_fused.data, rounding)
            if gray:
                fused = fused[..., :1]
            entry = dict(img_id=name)
            if out_dir:
                paths = self._outputs_of(name, out_dir, raw, None)
                entry['out_file'] = _write_atomic(
                    paths['out_file'], fused[...,
                                             0] if gray else fused[..., ::-1])
                if raw:
                    entry['raw_file'] = self._write_raw(
                        pred, paths['raw_file'], raw_channels)
            if return_images:
                entry['fused'] = fused[..., 0] if gray else fused
                entry['fused_y'] = pred.pred_fused_y.data[0].float().cpu(
                ).numpy()
            results.append(entry)
        return dict(
            predictions=preds if return_datasamples else results,
            visualization=visualization)

    @staticmethod
    def _write_raw(pred, path: str, channels: str) -> str:
        """The unquantised result at ``path`` (``.npy``: float32, ``.png``:
        16-bit)."""
        if channels == 'y':
            img = pred.pred_fused_y.data[0]
        else:
            img = pred.pred_fused.data.permute(1, 2, 0)
        img = img.detach().float().clamp(0, 1).cpu().numpy()
        if path.endswith('.npy'):
            return _write_atomic(path, img.astype(np.float32))
        img16 = np.round(img * 65535).astype(np.uint16)
        if img16.ndim == 3:
            img16 = img16[..., ::-1]  # OpenCV writes BGR
        return _write_atomic(path, img16)
