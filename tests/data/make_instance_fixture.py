# Copyright (c) mmfusion contributors. All rights reserved.
"""Regenerate ``tests/data/msrs_inst_mini``: real MSRS pairs with instance
masks, for instance-segmentation tasks (Mask R-CNN and family).

Two pairs of ``data/msrs_demo/train`` (the bundled MSRS pairs), halved to
320x240, in MSRS's layout (``train/{ir,vi,Detection_labels}``). The labels
are in YOLO's segmentation format, one object per line
``class x1 y1 ... xn yn`` (normalised): for every box of the pair's MSRS
detection label, the octagon inscribed in it (corners cut at a quarter of
the box's width and height) — a synthetic mask, but a polygon that is not
its box, so tests can tell masks from boxes.

Run from the repository root: ``python tests/data/make_instance_fixture.py``.
"""
import os
import os.path as osp

import cv2

ROOT = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(osp.dirname(ROOT))
SRC = osp.join(REPO, 'data', 'msrs_demo', 'train')
DST = osp.join(ROOT, 'msrs_inst_mini', 'train')
NAMES = ['00225D', '00303D']


def octagon(cx, cy, w, h):
    x1, y1, x2, y2 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
    dx, dy = w / 4, h / 4
    return [
        x1 + dx, y1, x2 - dx, y1, x2, y1 + dy, x2, y2 - dy, x2 - dx, y2,
        x1 + dx, y2, x1, y2 - dy, x1, y1 + dy
    ]


def main():
    for sub in ('ir', 'vi', 'Detection_labels'):
        os.makedirs(osp.join(DST, sub), exist_ok=True)
    for name in NAMES:
        for sub in ('ir', 'vi'):
            img = cv2.imread(
                osp.join(SRC, sub, f'{name}.png'), cv2.IMREAD_UNCHANGED)
            img = cv2.resize(img, (320, 240), interpolation=cv2.INTER_AREA)
            cv2.imwrite(
                osp.join(DST, sub, f'{name}.png'), img,
                [cv2.IMWRITE_PNG_COMPRESSION, 9])
        lines = []
        with open(osp.join(SRC, 'Detection_labels', f'{name}.txt')) as f:
            for line in f:
                if not line.strip():
                    continue
                cls, cx, cy, w, h = line.split()
                poly = octagon(float(cx), float(cy), float(w), float(h))
                poly = [min(max(v, 0.), 1.) for v in poly]
                lines.append(cls + ' ' + ' '.join(f'{v:.6f}' for v in poly))
        with open(osp.join(DST, 'Detection_labels', f'{name}.txt'), 'w') as f:
            f.write('\n'.join(lines) + '\n')


if __name__ == '__main__':
    main()
