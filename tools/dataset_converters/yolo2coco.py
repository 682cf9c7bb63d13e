# Copyright (c) mmfusion contributors. All rights reserved.
"""Convert YOLO txt detection labels (MSRS ``Detection_labels``) to a COCO
json for mmdet's ``CocoMetric``.

The labels are read by the mmfusion dataset class itself, so the json holds
exactly the boxes training sees, with the same checks (a malformed line or
an out-of-range class id stops the conversion, naming the file).

Example (MSRS test split -> data/MSRS/annotations/test_det_coco.json)::

    python tools/dataset_converters/yolo2coco.py data/MSRS --split test
"""
import argparse
import json
import os
import os.path as osp

from mmfusion.datasets import dataset_to_coco
from mmfusion.registry import DATASETS


def parse_args():
    parser = argparse.ArgumentParser(
        description='YOLO txt detection labels -> COCO json')
    parser.add_argument('data_root', help='dataset root, e.g. data/MSRS')
    parser.add_argument(
        '--dataset',
        default='MSRSDataset',
        help='registered dataset class (gives the class names)')
    parser.add_argument(
        '--split',
        default='test',
        help='MSRS split: folders {split}/ir, {split}/vi, '
        '{split}/Detection_labels')
    parser.add_argument('--ir', help='IR folder (overrides --split)')
    parser.add_argument('--vis', help='VIS folder (overrides --split)')
    parser.add_argument('--det', help='label folder (overrides --split)')
    parser.add_argument('--split-file', help='optional list of image names')
    parser.add_argument(
        '--classes', nargs='+', help='class names if not the dataset\'s')
    parser.add_argument(
        '--img-id',
        choices=['stem', 'int'],
        default='stem',
        help="COCO image ids: the file stem (default, what mmfusion data "
        "samples carry as img_id, so CocoMetric matches them) or 1..N")
    parser.add_argument(
        '--out',
        help='output json (default: '
        '{data_root}/annotations/{split}_det_coco.json)')
    return parser.parse_args()


def main():
    args = parse_args()
    prefix = dict(
        ir=args.ir or f'{args.split}/ir',
        vis=args.vis or f'{args.split}/vi',
        det=args.det or f'{args.split}/Detection_labels')
    cfg = dict(
        type=args.dataset,
        data_root=args.data_root,
        data_prefix=prefix,
        ann_file=args.split_file or '',
        det_format='yolo',
        test_mode=True)
    if args.classes:
        cfg['metainfo'] = dict(classes=tuple(args.classes))
    dataset = DATASETS.build(cfg)
    coco = dataset_to_coco(dataset, args.img_id)
    out = args.out or osp.join(args.data_root, 'annotations',
                               f'{args.split}_det_coco.json')
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    with open(out, 'w') as f:
        json.dump(coco, f)
    print(f'{out}: {len(coco["images"])} images, '
          f'{len(coco["annotations"])} boxes, classes '
          f'{[c["name"] for c in coco["categories"]]}')


if __name__ == '__main__':
    main()
