# Copyright (c) mmfusion contributors. All rights reserved.
import os.path as osp
from typing import Optional, Sequence

import mmcv
from mmengine.hooks import Hook
from mmengine.runner import Runner

from mmfusion.registry import HOOKS
from mmfusion.utils import to_uint8


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

    def _save(self, folder: str, outputs: Sequence) -> None:
        for sample in outputs:
            name = sample.metainfo.get('img_id') or osp.splitext(
                osp.basename(sample.metainfo['ir_path']))[0]
            rgb = to_uint8(sample.pred_fused.data, self.rounding)
            mmcv.imwrite(
                rgb[..., ::-1], osp.join(folder, f'{name}.png'),
                auto_mkdir=True)

    def after_val_iter(self,
                       runner: Runner,
                       batch_idx: int,
                       data_batch: Optional[dict] = None,
                       outputs: Optional[Sequence] = None) -> None:
        if self.save_val and outputs:
            self._save(
                osp.join(runner.work_dir, self.out_dir, 'val',
                         f'iter_{runner.iter}'), outputs)

    def after_test_iter(self,
                        runner: Runner,
                        batch_idx: int,
                        data_batch: Optional[dict] = None,
                        outputs: Optional[Sequence] = None) -> None:
        if self.save_test and outputs:
            self._save(
                osp.join(runner.work_dir, self.out_dir, 'test'), outputs)
