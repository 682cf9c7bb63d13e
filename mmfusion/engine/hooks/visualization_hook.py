# Copyright (c) mmfusion contributors. All rights reserved.
from typing import Optional, Sequence

from mmengine.hooks import Hook
from mmengine.runner import Runner

from mmfusion.registry import HOOKS
from mmfusion.visualization import FusionVisualizer
from .sample_output import sample_name, stage_folder, write_rgb


@HOOKS.register_module()
class FusionVisualizationHook(Hook):
    """Draw VIS | IR | fused (| task prediction) grids during validation and
    testing.

    The grids are drawn by the runner's visualizer when it is a
    :class:`~mmfusion.visualization.FusionVisualizer` (``visualizer =
    dict(type='FusionVisualizer', ...)``), else by a private one (with the
    runner's dataset meta), and sent to the runner's visualizer. Every grid
    is written as a PNG to
    ``{work_dir}/{out_dir}/val/iter_{N}/{img_id}.png`` (validation, N = the
    training iteration) or ``{work_dir}/{out_dir}/test/{img_id}.png``, and
    sent to the runner's visualizer (``add_image``), i.e. to every configured
    vis backend: ``vis_data/vis_image/`` for ``LocalVisBackend``, the image
    tab for ``TensorboardVisBackend``, W&B ...

    The task panel shows ``pred_sem_seg`` (palette blend) or
    ``pred_instances`` (boxes) when the model predicts them.

    Args:
        interval: draw every ``interval``-th batch.
        max_samples: at most this many grids per validation / test run.
        out_dir: folder under the work dir (``None``: backends only).
        draw_val / draw_test: which stages to draw.
        to_backends: also send the grids to the visualizer's backends.
        scale: resize factor of the grid (e.g. 0.5 for smaller event files).
        rounding: quantisation of the fused image (as it is saved).
    """

    priority = 'NORMAL'

    def __init__(self,
                 interval: int = 1,
                 max_samples: int = 8,
                 out_dir: Optional[str] = 'vis_grids',
                 draw_val: bool = True,
                 draw_test: bool = True,
                 to_backends: bool = True,
                 scale: float = 1.0,
                 rounding: str = 'round'):
        if interval < 1:
            raise ValueError(f'interval must be >= 1, got {interval}')
        self.interval = interval
        self.max_samples = max_samples
        self.out_dir = out_dir
        self.draw_val = draw_val
        self.draw_test = draw_test
        self.to_backends = to_backends
        self.scale = scale
        self.rounding = rounding
        self._drawn = 0
        self._drawer = None

    def before_val_epoch(self, runner: Runner) -> None:
        self._drawn = 0

    def before_test_epoch(self, runner: Runner) -> None:
        self._drawn = 0

    def _fusion_visualizer(self, runner: Runner) -> FusionVisualizer:
        """The runner's visualizer if it draws fusion grids, else this
        hook's own (no backends; the runner's dataset meta)."""
        if isinstance(runner.visualizer, FusionVisualizer):
            return runner.visualizer
        if self._drawer is None:
            self._drawer = FusionVisualizer(
                name=f'{runner.visualizer.instance_name}_fusion_grids')
        self._drawer.dataset_meta = getattr(runner.visualizer, 'dataset_meta',
                                            None)
        return self._drawer

    def _draw(self, runner: Runner, stage: str, batch_idx: int,
              outputs: Optional[Sequence]) -> None:
        if not outputs or batch_idx % self.interval:
            return
        drawer = self._fusion_visualizer(runner)
        folder = (
            stage_folder(runner, self.out_dir, stage)
            if self.out_dir else None)
        for sample in outputs:
            if self._drawn >= self.max_samples:
                return
            grid = drawer.draw_fusion_grid(
                sample, rounding=self.rounding, scale=self.scale)
            name = sample_name(sample, default='pair')
            if folder:
                write_rgb(grid, folder, name)
            if self.to_backends:
                runner.visualizer.add_image(
                    f'{stage}_fusion_{name}', grid, step=runner.iter)
            self._drawn += 1

    def after_val_iter(self,
                       runner: Runner,
                       batch_idx: int,
                       data_batch: Optional[dict] = None,
                       outputs: Optional[Sequence] = None) -> None:
        if self.draw_val:
            self._draw(runner, 'val', batch_idx, outputs)

    def after_test_iter(self,
                        runner: Runner,
                        batch_idx: int,
                        data_batch: Optional[dict] = None,
                        outputs: Optional[Sequence] = None) -> None:
        if self.draw_test:
            self._draw(runner, 'test', batch_idx, outputs)
