# Copyright (c) mmfusion contributors. All rights reserved.
from typing import Optional, Sequence

from mmengine.hooks import Hook
from mmengine.runner import Runner

from mmfusion.registry import HOOKS
from mmfusion.utils import to_uint8
from .sample_output import sample_name, stage_folder, write_rgb


@HOOKS.register_module()
class FusedImageSaveHook(Hook):
    """Write the fused images of validation/test to the work dir.

    Files go to ``{work_dir}/{out_dir}/val/iter_{N}/{img_id}.png`` during
    validation (N = training iteration) and ``{work_dir}/{out_dir}/test/`` in
    testing, as RGB PNGs quantised like :class:`FusionMetric` measures them.

    Args:
        out_dir: folder name under the work dir.
        save_val / save_test: which stages to save.
        rounding: ``'round'`` or ``'floor'`` (see ``mmfusion.utils.to_uint8``).
    """

    priority = 'LOW'

    def __init__(self,
                 out_dir: str = 'fused',
                 save_val: bool = True,
                 save_test: bool = True,
                 rounding: str = 'round'):
        self.out_dir = out_dir
        self.save_val = save_val
        self.save_test = save_test
        self.rounding = rounding

    def _save(self, runner: Runner, stage: str, outputs: Sequence) -> None:
        folder = stage_folder(runner, self.out_dir, stage)
        for sample in outputs:
            write_rgb(
                to_uint8(sample.pred_fused.data, self.rounding), folder,
                sample_name(sample))

    def after_val_iter(self,
                       runner: Runner,
                       batch_idx: int,
                       data_batch: Optional[dict] = None,
                       outputs: Optional[Sequence] = None) -> None:
        if self.save_val and outputs:
            self._save(runner, 'val', outputs)

    def after_test_iter(self,
                        runner: Runner,
                        batch_idx: int,
                        data_batch: Optional[dict] = None,
                        outputs: Optional[Sequence] = None) -> None:
        if self.save_test and outputs:
            self._save(runner, 'test', outputs)
