# Copyright (c) mmfusion contributors. All rights reserved.
"""Convert Pascal VOC xml detection labels (M3FD ``Annotation``, LLVIP
``Annotations``) to a COCO json for mmdet's ``CocoMetric``.

The labels are read by the mmfusion dataset class itself (same classes,
same checks, same 1-based -> 0-based box conversion as training);
``difficult`` objects are written with ``iscrowd=1`` so COCOeval ignores
them.

Examples::

    # M3FD validation split (see make_split.py)
    python tools/dataset_converters/voc2coco.py data/M3FD \\
        --dataset M3FDDataset --split-file meta/val.txt \\
        --out data/M3FD/annotations/val_coco.json
    # LLVIP test split
    python tools/dataset_converters/voc2coco.py data/LLVIP \\
        --dataset LLVIPDataset --ir infrared/test --vis visible/test \\
        --out data/LLVIP/annotations/test_coco.json
"""
import argparse
import inspect
import json
import os
import os.path as osp

from mmfusion.datasets import dataset_to_coco
from mmfusion.registry import DATASETS


def parse_args():
    parser = argparse.ArgumentParser(
        description='Pascal VOC xml detection labels -> COCO json')
    parser.add_argument('data_root', help='dataset root, e.g. data/M3FD')
    parser.add_argument(
        '--dataset',
        default='M3FDDataset',
        help='registered dataset class: M3FDDataset or LLVIPDataset (gives '
        'the class names and default folders)')
    parser.add_argument('--ir', help='IR folder (default: the dataset\'s)')
    parser.add_argument('--vis', help='VIS folder (default: the dataset\'s)')
    parser.add_argument('--det', help='xml folder (default: the dataset\'s)')
    parser.add_argument('--split-file', help='list of image names to use')
    parser.add_argument(
        '--classes', nargs='+', help='class names if not the dataset\'s')
    parser.add_argument(
        '--ignore-unknown-classes',
        action='store_true',
        help='skip objects whose name is not a class instead of failing')
    parser.add_argument(
        '--img-id',
        choices=['stem', 'int'],
        default='stem',
        help='COCO image ids: the file stem (default) or 1..N')
    parser.add_argument('--out', required=True, help='output json')
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = dict(
        type=args.dataset,
        data_root=args.data_root,
        ann_file=args.split_file or '',
        det_format='voc',
        ignore_unknown_classes=args.ignore_unknown_classes,
        test_mode=True)
    prefix = {
        k: v
        for k, v in (('ir', args.ir), ('vis', args.vis), ('det', args.det))
        if v
    }
    if prefix:
        default = inspect.signature(DATASETS.get(
            args.dataset)).parameters['data_prefix'].default
        cfg['data_prefix'] = {**default, **prefix}
    if args.classes:
        cfg['metainfo'] = dict(classes=tuple(args.classes))
    dataset = DATASETS.build(cfg)
    coco = dataset_to_coco(dataset, args.img_id)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(coco, f)
    print(f'{args.out}: {len(coco["images"])} images, '
          f'{len(coco["annotations"])} boxes, classes '
          f'{[c["name"] for c in coco["categories"]]}')


if __name__ == '__main__':
    main()
