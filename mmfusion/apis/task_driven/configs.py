# Copyright (c) mmfusion contributors. All rights reserved.
"""Config rewriting of the task-driven protocol: which datasets of a task
config read the pairs, and the config of one input source (its modality in
every ``LoadModalityImage``, its fused folder in every dataset)."""
import copy
import os
import os.path as osp
from typing import Callable, Dict, List, Optional

from mmengine.config import Config, ConfigDict

from mmfusion.utils.runner_names import set_unique_run_name

__all__ = [
    'LOADERS', 'leaf_datasets', 'modality_transforms', 'modality_loaders',
    'vis_prefix', 'vis_folder', 'relative_vis_dirs', 'resolve_fused_folder',
    'source_config'
]

LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def leaf_datasets(dataset_cfg) -> List[ConfigDict]:
    """The datasets that read files, under dataset wrappers
    (``RepeatDataset``/``ClassBalancedDataset``: ``dataset``;
    ``ConcatDataset``: ``datasets``)."""
    if 'datasets' in dataset_cfg:
        return [
            leaf for d in dataset_cfg['datasets'] for leaf in leaf_datasets(d)
        ]
    if 'dataset' in dataset_cfg:
        return leaf_datasets(dataset_cfg['dataset'])
    return [dataset_cfg]


def modality_transforms(dataset_cfg) -> List[ConfigDict]:
    return [
        t for t in dataset_cfg.get('pipeline', []) if isinstance(t, dict)
        and str(t.get('type', '')).split('.')[-1] == 'LoadModalityImage'
    ]


def modality_loaders(cfg: Config) -> Dict[str, List[ConfigDict]]:
    """``{loader key: [leaf dataset configs]}`` of the config's dataloaders.

    Raises:
        ValueError: if the config has no training dataloader, or a dataset
            of a dataloader does not load its images with
            ``LoadModalityImage`` (it would ignore the input source).
    """
    if not cfg.get('train_dataloader'):
        raise ValueError('the task config has no train_dataloader: task-'
                         'driven evaluation trains a fresh task model')
    found = {}
    for key in LOADERS:
        loader = cfg.get(key)
        if not loader:
            continue
        leaves = leaf_datasets(loader['dataset'])
        for leaf in leaves:
            if len(modality_transforms(leaf)) != 1:
                raise ValueError(
                    f'{key}: the pipeline of dataset {leaf.get("type")} '
                    f'(data_root={leaf.get("data_root")!r}) must load its '
                    'image with exactly one '
                    "dict(type='mmfusion.LoadModalityImage'), which selects "
                    'the input source of each evaluated variant')
            if 'data_prefix' not in leaf or 'vis' not in leaf['data_prefix']:
                raise ValueError(
                    f'{key}: dataset {leaf.get("type")} needs a paired '
                    "data_prefix (dict(ir=..., vis=..., ...)); task-driven "
                    'evaluation reads paired mmfusion datasets')
        found[key] = leaves
    return found


def vis_prefix(leaf: ConfigDict) -> str:
    """The VIS folder of a dataset relative to its data root (as written in
    the config, normalised)."""
    return osp.normpath(leaf['data_prefix']['vis'])


def resolve_fused_folder(fused_dir: str, vis_prefix: str) -> str:
    """The folder holding an external method's fused images of the split
    whose VIS images are in ``vis_prefix`` (relative to the data root).

    In order: ``fused_dir/<vis_prefix>`` (a mirror of the dataset layout,
    e.g. ``DIR/test/vi``), ``fused_dir/<a folder name of vis_prefix>``
    (``DIR/test``, ``DIR/train``; the first existing one), else
    ``fused_dir`` itself (one flat folder for all splits: extra images are
    ignored, so it may hold every split's images).
    """
    if not osp.isdir(fused_dir):
        raise FileNotFoundError(f'folder of fused images {fused_dir} does '
                                'not exist')
    if not osp.isabs(vis_prefix):
        mirror = osp.join(fused_dir, vis_prefix)
        if osp.isdir(mirror):
            return mirror
        for part in vis_prefix.split(os.sep):
            if part not in ('', '.', '..') and osp.isdir(
                    osp.join(fused_dir, part)):
                return osp.join(fused_dir, part)
    return fused_dir


def vis_folder(leaf: ConfigDict) -> str:
    """The absolute VIS folder of a dataset (data root joined)."""
    prefix = leaf['data_prefix']['vis']
    if not osp.isabs(prefix):
        prefix = osp.join(leaf.get('data_root') or '', prefix)
    return osp.normpath(osp.abspath(prefix))


def relative_vis_dirs(leaves) -> Dict[str, str]:
    """Each VIS folder below the common parent of all of them
    (``.../MSRS/train/vi`` -> ``train/vi``)."""
    dirs = sorted({vis_folder(leaf) for leaf in leaves})
    base = osp.commonpath([osp.dirname(d) for d in dirs])
    return {d: osp.relpath(d, base) for d in dirs}


def source_config(cfg: Config, loaders, modality: str,
                  fused_folder: Callable[[str], str], work_dir: str,
                  launcher: str, seed: Optional[int], run_name: str) -> Config:
    """A copy of the task config ``cfg`` for one input source.

    Args:
        cfg: the task config.
        loaders: the dataloader keys to rewrite (:func:`modality_loaders`).
        modality: ``'vis'``, ``'ir'`` or ``'fused'``, set in every
            ``LoadModalityImage``.
        fused_folder: for ``'fused'``: the absolute VIS folder of a dataset
            -> the folder of the source's fused images of that split, set
            as the dataset's ``data_prefix['fused']``.
        work_dir, launcher: the run's.
        seed: the run's seed (``None`` keeps the config's).
        run_name: the run's name (made unique: runs follow one another in
            one process).
    """
    cfg = copy.deepcopy(cfg)
    cfg.pop('task_eval', None)
    for key in loaders:
        for leaf in leaf_datasets(cfg[key]['dataset']):
            modality_transforms(leaf)[0]['modality'] = modality
            if modality == 'fused':
                leaf['data_prefix']['fused'] = fused_folder(vis_folder(leaf))
            else:
                leaf['data_prefix'].pop('fused', None)
    cfg.work_dir = work_dir
    cfg.launcher = launcher
    if seed is not None:
        cfg.randomness = dict(cfg.get('randomness') or {}, seed=seed)
    set_unique_run_name(cfg, run_name)
    return cfg
