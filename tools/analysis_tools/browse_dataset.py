# Copyright (c) mmfusion contributors. All rights reserved.
"""Write what the model will see: ``VIS | IR | labels`` side by side, after
the config's pipeline (augmentations included), to eyeball alignment.

The third panel blends VIS and IR, paints the mask in the dataset palette
(ignored pixels dark) and draws the boxes with their class names; the box
outlines are also drawn on the VIS and IR panels.

Example::

    python tools/analysis_tools/browse_dataset.py \\
        configs/_base_/datasets/msrs_det.py --output-dir work_dirs/browse \\
        --num 20 --cfg-options train_dataloader.dataset.data_root=data/MSRS
"""
import argparse
import os
import os.path as osp

import cv2
import numpy as np
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope

import mmfusion  # noqa: F401  (compat patches)
from mmfusion.registry import DATASETS


def parse_args():
    parser = argparse.ArgumentParser(
        description='Save VIS | IR | labels images after the pipeline')
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--output-dir', required=True, help='folder for the images')
    parser.add_argument(
        '--phase',
        default='train',
        choices=['train', 'val', 'test'],
        help='which dataloader\'s dataset (and pipeline) to browse')
    parser.add_argument(
        '--num', type=int, default=10, help='number of samples to write')
    parser.add_argument(
        '--repeat',
        type=int,
        default=1,
        help='draw each sample this many times (random augmentations)')
    parser.add_argument(
        '--alpha', type=float, default=0.5, help='opacity of the mask')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, xxx=yyy')
    return parser.parse_args()


def _palette(palette, n: int) -> np.ndarray:
    """``(n, 3)`` RGB uint8, random colours where ``palette`` is short."""
    palette = list(palette or [])
    if len(palette) < n:
        rng = np.random.RandomState(42)
        palette += rng.randint(0, 255, (n - len(palette), 3)).tolist()
    return np.array(palette, dtype=np.uint8)


def label_styles(dataset) -> dict:
    """Class names and palettes of the masks and boxes of ``dataset``."""
    meta = dataset.metainfo
    seg_classes = tuple(meta.get('classes', ()))
    det_classes = tuple(getattr(dataset, 'det_classes', seg_classes))
    det_palette = meta.get('det_palette') if getattr(
        dataset, 'with_seg', False) else meta.get('palette')
    return dict(
        seg_classes=seg_classes,
        seg_palette=_palette(meta.get('palette'), max(len(seg_classes), 1)),
        det_classes=det_classes,
        det_palette=_palette(det_palette, max(len(det_classes), 1)))


def draw_sample(inputs,
                sample,
                styles: dict,
                alpha: float = 0.5) -> np.ndarray:
    """``(H, 3W, 3)`` BGR uint8: VIS | IR | labels of one packed sample."""
    x = inputs.numpy()
    vis = np.ascontiguousarray(x[:3].transpose(1, 2, 0))  # BGR
    ir = np.ascontiguousarray(np.repeat(x[3:4], 3, 0).transpose(1, 2, 0))
    labels = ((vis.astype(np.float32) + ir) / 2).astype(np.uint8)
    if 'gt_sem_seg' in sample:
        seg = sample.gt_sem_seg.data[0].numpy()
        palette = styles['seg_palette'][:, ::-1]  # RGB -> BGR
        classes = styles['seg_classes']
        painted = seg < len(palette)
        if classes and classes[0] in ('unlabelled', 'background'):
            painted &= seg > 0  # keep the scene visible
        labels[painted] = (labels[painted] * (1 - alpha) +
                           palette[seg[painted]] * alpha).astype(np.uint8)
        labels[seg == 255] //= 3  # ignored pixels
    if 'gt_instances' in sample:
        classes, palette = styles['det_classes'], styles['det_palette']
        boxes = sample.gt_instances.bboxes
        boxes = getattr(boxes, 'tensor', boxes).numpy()
        for box, label in zip(boxes, sample.gt_instances.labels.tolist()):
            x1, y1, x2, y2 = (int(round(v)) for v in box)
            colour = tuple(int(c) for c in palette[label][::-1])
            for panel in (vis, ir, labels):
                cv2.rectangle(panel, (x1, y1), (x2 - 1, y2 - 1), colour, 1)
            cv2.putText(labels, str(classes[label]), (x1, max(y1 - 2, 8)),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.35, colour, 1, cv2.LINE_AA)
    return np.concatenate([vis, ir, labels], axis=1)


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmfusion'))
    dataset = DATASETS.build(cfg[f'{args.phase}_dataloader'].dataset)
    styles = label_styles(dataset)
    os.makedirs(args.output_dir, exist_ok=True)
    written = 0
    for index in range(min(args.num, len(dataset))):
        for rep in range(args.repeat):
            packed = dataset[index]
            sample = packed['data_samples']
            canvas = draw_sample(packed['inputs'], sample, styles, args.alpha)
            name = f'{index:04d}_{sample.metainfo.get("img_id", index)}'
            if args.repeat > 1:
                name += f'_{rep}'
            cv2.imwrite(osp.join(args.output_dir, name + '.png'), canvas)
            written += 1
    print(f'{written} images written to {args.output_dir}')


if __name__ == '__main__':
    main()
