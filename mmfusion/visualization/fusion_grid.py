# Copyright (c) mmfusion contributors. All rights reserved.
"""VIS | IR | fused (| task prediction) panels for one pair."""
from typing import List, Optional, Sequence

import cv2
import numpy as np
import torch

from mmfusion.utils import to_uint8

__all__ = ['make_fusion_grid', 'sample_fusion_grid', 'render_task_prediction']

# a fixed palette for class ids (MSRS' 9 classes first, then repeated)
_PALETTE = np.array(
    [[0, 0, 0], [64, 0, 128], [64, 64, 0], [0, 128, 192], [0, 0, 192],
     [128, 128, 0], [64, 64, 128], [192, 128, 128], [192, 64, 0], [255, 0, 0],
     [0, 255, 0], [0, 0, 255], [255, 255, 0], [0, 255, 255], [255, 0, 255],
     [128, 255, 128]],
    dtype=np.uint8)


def _get(sample, key, default=None):
    if isinstance(sample, dict):
        return sample.get(key, sample.get('metainfo', {}).get(key, default))
    if key in sample:
        return getattr(sample, key)
    return sample.metainfo.get(key, default)


def _data(field):
    if field is None:
        return None
    if isinstance(field, dict):
        return field.get('data', field)
    return getattr(field, 'data', field)


def _rgb(img: np.ndarray) -> np.ndarray:
    if img.ndim == 2:
        img = img[..., None]
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    return np.ascontiguousarray(img[..., :3])


def _label(panel: np.ndarray, text: str) -> np.ndarray:
    scale = max(0.4, panel.shape[1] / 640)
    thickness = max(1, int(round(scale * 1.5)))
    org = (int(6 * scale), int(22 * scale))
    cv2.putText(panel, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0),
                thickness + 2, cv2.LINE_AA)
    cv2.putText(panel, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale,
                (255, 255, 255), thickness, cv2.LINE_AA)
    return panel


def make_fusion_grid(panels: Sequence[np.ndarray],
                     titles: Optional[Sequence[str]] = None,
                     gap: int = 4,
                     scale: float = 1.0) -> np.ndarray:
    """Side-by-side RGB uint8 panels (gray ones are replicated), resized to
    the first panel's height, separated by ``gap`` white pixels and titled.
    """
    h = panels[0].shape[0]
    out: List[np.ndarray] = []
    for i, panel in enumerate(panels):
        panel = _rgb(np.asarray(panel, dtype=np.uint8))
        if panel.shape[0] != h:
            w = int(round(panel.shape[1] * h / panel.shape[0]))
            panel = cv2.resize(panel, (w, h), interpolation=cv2.INTER_AREA)
        if scale != 1.0:
            panel = cv2.resize(
                panel, (max(1, int(panel.shape[1] * scale)),
                        max(1, int(panel.shape[0] * scale))),
                interpolation=cv2.INTER_AREA)
        panel = panel.copy()
        if titles:
            _label(panel, titles[i])
        if out:
            out.append(np.full((panel.shape[0], gap, 3), 255, np.uint8))
        out.append(panel)
    return np.concatenate(out, axis=1)


def render_task_prediction(
        fused_rgb: np.ndarray,
        sample,
        class_names: Optional[Sequence[str]] = None) -> Optional[np.ndarray]:
    """The task prediction of ``sample`` drawn on the fused image: a
    segmentation (``pred_sem_seg``) blended in a fixed palette, or detection
    boxes (``pred_instances``, score >= 0.3); ``None`` when there is none."""
    seg = _data(_get(sample, 'pred_sem_seg'))
    if seg is not None:
        seg = torch.as_tensor(seg).squeeze().cpu().numpy().astype(np.int64)
        colour = _PALETTE[np.mod(seg, len(_PALETTE))]
        if colour.shape[:2] != fused_rgb.shape[:2]:
            colour = cv2.resize(
                colour,
                fused_rgb.shape[1::-1],
                interpolation=cv2.INTER_NEAREST)
        return (0.5 * fused_rgb + 0.5 * colour).astype(np.uint8)
    inst = _get(sample, 'pred_instances')
    if inst is None:
        return None
    bboxes = _data(inst['bboxes'] if isinstance(inst, dict) else getattr(
        inst, 'bboxes', None))
    if bboxes is None:
        return None
    get = (lambda k: inst.get(k)) if isinstance(
        inst, dict) else (lambda k: getattr(inst, k, None))
    bboxes = torch.as_tensor(bboxes).cpu().numpy().reshape(-1, 4)
    labels = get('labels')
    scores = get('scores')
    labels = (
        torch.as_tensor(labels).cpu().numpy()
        if labels is not None else np.zeros(len(bboxes), int))
    scores = (
        torch.as_tensor(scores).cpu().numpy()
        if scores is not None else np.ones(len(bboxes)))
    canvas = np.ascontiguousarray(fused_rgb.copy())
    for box, label, score in zip(bboxes, labels, scores):
        if score < 0.3:
            continue
        colour = tuple(
            int(c) for c in _PALETTE[(int(label) + 1) % len(_PALETTE)])
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), colour, 2)
        name = (
            class_names[int(label)] if class_names
            and int(label) < len(class_names) else str(int(label)))
        cv2.putText(canvas, f'{name} {score:.2f}', (x1, max(10, y1 - 3)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1, cv2.LINE_AA)
    return canvas


def sample_fusion_grid(sample,
                       rounding: str = 'round',
                       scale: float = 1.0,
                       class_names: Optional[Sequence[str]] = None,
                       backend_args: Optional[dict] = None,
                       vis: Optional[np.ndarray] = None,
                       ir: Optional[np.ndarray] = None,
                       draw_task: bool = True) -> np.ndarray:
    """VIS | IR | fused (| task) grid (RGB uint8) of a predicted
    :class:`~mmfusion.structures.FusionDataSample` (or its dict): the
    sources are ``vis`` (RGB or gray) / ``ir`` when given, else read from
    ``vis_path`` / ``ir_path``; the fused image is ``pred_fused`` quantised
    as it is saved; the task panel (``draw_task``) shows the task
    prediction when the sample has one."""
    fused = _data(_get(sample, 'pred_fused'))
    if fused is None:
        fused = _data(_get(sample, 'pred_fused_y'))
    if fused is None:
        raise KeyError('the data sample has no `pred_fused`')
    fused_rgb = _rgb(to_uint8(torch.as_tensor(fused), rounding))
    panels, titles = [], []
    vis_path, ir_path = _get(sample, 'vis_path'), _get(sample, 'ir_path')
    if (vis is None and vis_path) or (ir is None and ir_path):
        # (imported here: the package's metric plots, which
        # tools/analysis_tools/eval_fused.py draws, need no mmcv)
        import mmcv
    if vis is None and vis_path:
        vis = mmcv.imread(
            vis_path, 'color', channel_order='rgb', backend_args=backend_args)
    if vis is not None:
        panels.append(vis)
        titles.append('VIS')
    if ir is None and ir_path:
        ir = mmcv.imread(ir_path, 'grayscale', backend_args=backend_args)
    if ir is not None:
        panels.append(ir)
        titles.append('IR')
    panels.append(fused_rgb)
    titles.append('fused')
    task = render_task_prediction(fused_rgb, sample,
                                  class_names) if draw_task else None
    if task is not None:
        panels.append(task)
        titles.append('task')
    # sources at the fused image's size (the pipeline may have resized it)
    h, w = fused_rgb.shape[:2]
    panels = [
        p if p.shape[:2] == (h, w) else cv2.resize(
            p, (w, h), interpolation=cv2.INTER_AREA) for p in panels
    ]
    return make_fusion_grid(panels, titles, scale=scale)
