# Copyright (c) mmfusion contributors. All rights reserved.
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from mmseg.evaluation.metrics import IoUMetric
from prettytable import PrettyTable

from mmfusion.registry import METRICS


@METRICS.register_module()
class SegIoUMetric(IoUMetric):
    """mmseg's :class:`~mmseg.evaluation.metrics.IoUMetric` with a choice of
    the classes the class means are taken over, and optional per-class
    values in the results.

    By default the numbers are exactly mmseg's: the means (``mIoU``,
    ``mAcc``, ``mDice``, ``mFscore``, ``mPrecision``, ``mRecall``) are over
    all the dataset's classes. On MSRS that is the 9 classes including
    ``'unlabelled'``, as the papers report it; ``exclude_from_mean=
    ('unlabelled',)`` gives the 8-class mean. Excluding a class only drops
    its value from the means: the confusion statistics are unchanged (its
    pixels still count as false negatives / positives of the other classes,
    and ``aAcc`` stays over all pixels). Ignoring the pixels entirely is
    ``ignore_index``, a different protocol (see ``docs/evaluation.md``).

    Args:
        exclude_from_mean: names of classes left out of the class means.
            Unknown names, or all the classes, raise ``ValueError`` when the
            dataset's classes are set (at the start of evaluation).
        per_class: also return the per-class values as ``IoU.<class>``,
            ``Acc.<class>`` (and ``Dice``, ``Fscore``, ``Precision``,
            ``Recall`` for the requested metrics), in percent rounded as
            mmseg rounds; a class absent from both the labels and the
            predictions gives NaN.
        ignore_index / iou_metrics / nan_to_num / beta / collect_device /
            output_dir / format_only / prefix: see mmseg's ``IoUMetric``.
    """

    def __init__(self,
                 ignore_index: int = 255,
                 iou_metrics: List[str] = ['mIoU'],
                 nan_to_num: Optional[int] = None,
                 beta: int = 1,
                 collect_device: str = 'cpu',
                 output_dir: Optional[str] = None,
                 format_only: bool = False,
                 prefix: Optional[str] = None,
                 exclude_from_mean: Union[str, Sequence[str]] = (),
                 per_class: bool = False) -> None:
        super().__init__(
            ignore_index=ignore_index,
            iou_metrics=iou_metrics,
            nan_to_num=nan_to_num,
            beta=beta,
            collect_device=collect_device,
            output_dir=output_dir,
            format_only=format_only,
            prefix=prefix)
        if isinstance(exclude_from_mean, str):
            exclude_from_mean = (exclude_from_mean, )
        self.exclude_from_mean = tuple(dict.fromkeys(exclude_from_mean))
        self.per_class = per_class

    @BaseMetric.dataset_meta.setter
    def dataset_meta(self, dataset_meta: Optional[dict]) -> None:
        """Set the dataset meta info and check ``exclude_from_mean`` against
        its classes, so that a wrong name fails before evaluation runs."""
        self._dataset_meta = dataset_meta
        if dataset_meta is not None and 'classes' in dataset_meta:
            self._mean_mask(dataset_meta['classes'])

    def _mean_mask(self, classes: Sequence[str]) -> np.ndarray:
        """Boolean mask of the classes the means are over."""
        classes = list(classes)
        unknown = [c for c in self.exclude_from_mean if c not in classes]
        if unknown:
            raise ValueError(
                f'{self.__class__.__name__}: exclude_from_mean names '
                f'{", ".join(map(repr, unknown))}, not a class of the '
                f'dataset; its classes are {tuple(classes)}')
        keep = np.array([c not in self.exclude_from_mean for c in classes])
        if not keep.any():
            raise ValueError(
                f'{self.__class__.__name__}: exclude_from_mean excludes every '
                f'class of the dataset {tuple(classes)}; no class is left '
                'for the means')
        return keep

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Compute the metrics from processed results.

        Args:
            results (list): The processed results of each batch.

        Returns:
            Dict[str, float]: ``aAcc`` and the class means (``mIoU``,
            ``mAcc``, ...), plus ``IoU.<class>``, ... with ``per_class``.
        """
        if self.format_only:
            return super().compute_metrics(results)
        logger: MMLogger = MMLogger.get_current_instance()
        class_names = self.dataset_meta['classes']
        keep = self._mean_mask(class_names)

        results = tuple(zip(*results))
        assert len(results) == 4
        ret_metrics = self.total_area_to_metrics(
            sum(results[0]), sum(results[1]), sum(results[2]), sum(results[3]),
            self.metrics, self.nan_to_num, self.beta)

        # the means: as mmseg, over the kept classes
        metrics = dict()
        metrics['aAcc'] = np.round(
            np.nanmean(ret_metrics.pop('aAcc')) * 100, 2)
        for key, value in ret_metrics.items():
            metrics['m' + key] = np.round(np.nanmean(value[keep]) * 100, 2)

        # each class: mmseg's table
        ret_metrics_class = OrderedDict({
            key: np.round(value * 100, 2)
            for key, value in ret_metrics.items()
        })
        class_table_data = PrettyTable()
        class_table_data.add_column('Class', list(class_names))
        for key, val in ret_metrics_class.items():
            class_table_data.add_column(key, val)
        print_log('per class results:', logger)
        print_log('\n' + class_table_data.get_string(), logger=logger)
        means = ', '.join(k for k in metrics if k != 'aAcc')
        if keep.all():
            print_log(
                f'class means ({means}) over all {len(keep)} classes',
                logger=logger)
        else:
            print_log(
                f'class means ({means}) over {int(keep.sum())} of '
                f'{len(keep)} classes: '
                f'{", ".join(c for c, k in zip(class_names, keep) if k)} '
                f'(excluded: {", ".join(self.exclude_from_mean)})',
                logger=logger)

        if self.per_class:
            for key, value in ret_metrics_class.items():
                for name, v in zip(class_names, value):
                    metrics[f'{key}.{name}'] = v
        return metrics
