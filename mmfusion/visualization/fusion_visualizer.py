# Copyright (c) mmfusion contributors. All rights reserved.
"""The fusion visualizer: VIS | IR | fused (| task prediction) grids of a
predicted pair, drawn into mmengine's :class:`Visualizer` and sent to any of
its backends."""
from typing import Optional

import mmcv
import numpy as np
from mmengine.visualization import Visualizer

from mmfusion.registry import VISUALIZERS
from mmfusion.utils.fileio import atomic_path
from .fusion_grid import sample_fusion_grid

__all__ = ['FusionVisualizer']


@VISUALIZERS.register_module()
class FusionVisualizer(Visualizer):
    """An mmengine :class:`~mmengine.visualization.Visualizer` that draws
    the grid of a predicted :class:`~mmfusion.structures.FusionDataSample`:
    VIS | IR | fused, and the task prediction on the fused image
    (``pred_sem_seg`` blended in a palette, or ``pred_instances`` boxes with
    the ``dataset_meta`` class names) when the sample has one.

    Use it as a config's visualizer (``visualizer = dict(
    type='FusionVisualizer', vis_backends=[...], name='visualizer')``) or
    build it for an inferencer: :meth:`add_datasample` follows the
    OpenMMLab visualizers' interface (``out_file`` writes the grid, else it
    goes to every backend: ``LocalVisBackend``, TensorBoard, W&B, ...).
    :class:`~mmfusion.engine.hooks.FusionVisualizationHook` draws with the
    runner's visualizer when it is one (with a private one otherwise).

    Args:
        name / image / vis_backends / save_dir / **kwargs: see
            :class:`~mmengine.visualization.Visualizer`.
        rounding: quantisation of the fused image (``'round'`` or
            ``'floor'``, as it is saved).
        scale: resize factor of the grid.
        backend_args: file backend of the source images read from the
            sample's ``vis_path`` / ``ir_path``.
    """

    def __init__(self,
                 name: str = 'visualizer',
                 image: Optional[np.ndarray] = None,
                 vis_backends: Optional[list] = None,
                 save_dir: Optional[str] = None,
                 rounding: str = 'round',
                 scale: float = 1.0,
                 backend_args: Optional[dict] = None,
                 **kwargs):
        super().__init__(
            name=name,
            image=image,
            vis_backends=vis_backends,
            save_dir=save_dir,
            **kwargs)
        if rounding not in ('round', 'floor'):
            raise ValueError(f"rounding must be 'round' or 'floor', got "
                             f'{rounding!r}')
        self.rounding = rounding
        self.scale = scale
        self.backend_args = backend_args

    def draw_fusion_grid(self,
                         data_sample,
                         vis: Optional[np.ndarray] = None,
                         ir: Optional[np.ndarray] = None,
                         draw_task: bool = True,
                         rounding: Optional[str] = None,
                         scale: Optional[float] = None) -> np.ndarray:
        """Draw the grid of ``data_sample`` (RGB uint8), make it the
        visualizer's current image and return it. ``vis`` (RGB or gray) /
        ``ir``: the sources, read from the sample's paths when not given;
        ``rounding`` / ``scale``: instead of the visualizer's."""
        meta = self.dataset_meta or {}
        grid = sample_fusion_grid(
            data_sample,
            rounding=self.rounding if rounding is None else rounding,
            scale=self.scale if scale is None else scale,
            class_names=meta.get('classes'),
            backend_args=self.backend_args,
            vis=vis,
            ir=ir,
            draw_task=draw_task)
        self.set_image(grid)
        return grid

    def add_datasample(self,
                       name: str,
                       image: Optional[np.ndarray] = None,
                       data_sample=None,
                       draw_gt: bool = False,
                       draw_pred: bool = True,
                       show: bool = False,
                       wait_time: float = 0,
                       out_file: Optional[str] = None,
                       step: int = 0,
                       ir: Optional[np.ndarray] = None) -> None:
        """Draw the grid of ``data_sample`` and show it, write it to
        ``out_file`` or, without ``out_file``, send it to the backends
        under ``name`` at ``step``.

        ``image``: the VIS image (RGB or gray) and ``ir`` the IR image, or
        ``None`` to read them from the sample's ``vis_path`` / ``ir_path``.
        ``out_file`` is written whole or not at all. ``draw_pred``: include
        the task panel. ``draw_gt`` is accepted for the OpenMMLab
        interface; no ground truth is drawn.
        """
        if data_sample is None:
            raise ValueError('FusionVisualizer.add_datasample needs the '
                             'predicted data_sample (pred_fused)')
        grid = self.draw_fusion_grid(
            data_sample, vis=image, ir=ir, draw_task=draw_pred)
        if show:
            self.show(grid, win_name=name, wait_time=wait_time)
        if out_file is not None:  # whole or absent
            with atomic_path(out_file) as tmp:
                mmcv.imwrite(grid[..., ::-1], tmp)
        else:
            self.add_image(name, grid, step)
