# Copyright (c) mmfusion contributors. All rights reserved.
"""Regenerate the tiny dataset-layout fixtures of ``tests/data``.

FMB, M3FD and LLVIP are not available to the tests, so these folders mimic
their released layouts (docs/datasets.md) with 40x32 synthetic images:

- ``fmb_mini``: ``{train,test}/{Infrared,Visible,Label,color}/*.png``;
  ``Label`` ids 0..14, one mask with a 255 (ignore) region.
- ``m3fd_mini``: ``{Ir,Vis,Annotation}`` + ``meta/{train,val}.txt``
  (TarDAL names, ``00000.png``); IR stored as 24-bit gray like the release;
  VOC xml in labelImg's form, one ``difficult`` object, one image without
  objects.
- ``llvip_mini``: ``{infrared,visible}/{train,test}/*.jpg`` +
  ``Annotations/*.xml`` shared by both splits.

Each image is a smooth gradient with one bright rectangle per object; the
rectangle is the object's box (and its class id in the masks).

Run from the repository root: ``python tests/data/make_layout_fixtures.py``.
"""
import os
import os.path as osp

import cv2
import numpy as np

ROOT = osp.dirname(osp.abspath(__file__))
W, H = 40, 32


def _images(seed, boxes):
    rng = np.random.RandomState(seed)
    yy, xx = np.mgrid[0:H, 0:W]
    ir = (40 + 2 * xx + yy + rng.randint(0, 8, (H, W))).astype(np.uint8)
    vis = np.stack([(30 + 3 * yy) % 256, (60 + 2 * xx) % 256, 90 + xx + yy],
                   -1).astype(np.uint8)
    for x1, y1, x2, y2 in boxes:  # 0-based, exclusive ends
        ir[y1:y2, x1:x2] = 250
        vis[y1:y2, x1:x2] = (240, 250, 245)
    return ir, vis


def _voc(path, filename, objects, folder):
    lines = [
        '<annotation>', f'\t<folder>{folder}</folder>',
        f'\t<filename>{filename}</filename>', '\t<size>',
        f'\t\t<width>{W}</width>', f'\t\t<height>{H}</height>',
        '\t\t<depth>3</depth>', '\t</size>', '\t<segmented>0</segmented>'
    ]
    for name, (x1, y1, x2, y2), difficult in objects:
        # VOC: 1-based inclusive pixel coordinates
        lines += [
            '\t<object>', f'\t\t<name>{name}</name>',
            '\t\t<pose>Unspecified</pose>', '\t\t<truncated>0</truncated>',
            f'\t\t<difficult>{difficult}</difficult>', '\t\t<bndbox>',
            f'\t\t\t<xmin>{x1 + 1}</xmin>', f'\t\t\t<ymin>{y1 + 1}</ymin>',
            f'\t\t\t<xmax>{x2}</xmax>', f'\t\t\t<ymax>{y2}</ymax>',
            '\t\t</bndbox>', '\t</object>'
        ]
    lines.append('</annotation>')
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')


def _mkdirs(*dirs):
    for d in dirs:
        os.makedirs(d, exist_ok=True)


def make_fmb():
    root = osp.join(ROOT, 'fmb_mini')
    palette = np.random.RandomState(0).randint(0, 255, (256, 3))
    samples = {
        'train': [('00001', [(4, 4, 14, 12, 1), (20, 6, 30, 20, 9)]),
                  ('00002', [(2, 2, 38, 10, 7), (10, 14, 16, 30, 14)])],
        'test': [('00101', [(6, 8, 18, 20, 8), (24, 4, 34, 28, 255)])],
    }
    for split, items in samples.items():
        dirs = [
            osp.join(root, split, d)
            for d in ('Infrared', 'Visible', 'Label', 'color')
        ]
        _mkdirs(*dirs)
        for seed, (stem, regions) in enumerate(items):
            ir, vis = _images(seed, [r[:4] for r in regions])
            label = np.zeros((H, W), np.uint8)
            for x1, y1, x2, y2, cls in regions:
                label[y1:y2, x1:x2] = cls
            cv2.imwrite(osp.join(dirs[0], stem + '.png'), ir)
            cv2.imwrite(osp.join(dirs[1], stem + '.png'), vis)
            cv2.imwrite(osp.join(dirs[2], stem + '.png'), label)
            cv2.imwrite(
                osp.join(dirs[3], stem + '.png'),
                palette[label].astype(np.uint8))


def make_m3fd():
    root = osp.join(ROOT, 'm3fd_mini')
    dirs = [osp.join(root, d) for d in ('Ir', 'Vis', 'Annotation', 'meta')]
    _mkdirs(*dirs)
    samples = [('00000', [('People', (3, 5, 9, 25), 0),
                          ('Car', (14, 10, 36, 24), 0)]),
               ('00001', [('Lamp', (30, 1, 34, 12), 1),
                          ('Truck', (2, 8, 22, 30), 0),
                          ('Motorcycle', (25, 18, 37, 30), 0)]), ('00002', [])]
    for seed, (stem, objects) in enumerate(samples):
        ir, vis = _images(seed, [o[1] for o in objects])
        cv2.imwrite(
            osp.join(dirs[0], stem + '.png'), np.repeat(ir[..., None], 3,
                                                        2))  # 24-bit gray
        cv2.imwrite(osp.join(dirs[1], stem + '.png'), vis)
        _voc(osp.join(dirs[2], stem + '.xml'), stem + '.png', objects, 'Vis')
    with open(osp.join(dirs[3], 'train.txt'), 'w') as f:
        f.write('00000.png\n00001.png\n')
    with open(osp.join(dirs[3], 'val.txt'), 'w') as f:
        f.write('00002.png\n')


def make_llvip():
    root = osp.join(ROOT, 'llvip_mini')
    ann = osp.join(root, 'Annotations')
    _mkdirs(ann)
    samples = {
        'train': [('010001', [('person', (5, 4, 13, 28), 0)]),
                  ('010002', [('person', (20, 6, 27, 30), 0),
                              ('person', (29, 8, 36, 30), 0)])],
        'test': [('190001', [('person', (10, 2, 18, 26), 0)])],
    }
    for split, items in samples.items():
        ir_dir = osp.join(root, 'infrared', split)
        vis_dir = osp.join(root, 'visible', split)
        _mkdirs(ir_dir, vis_dir)
        for seed, (stem, objects) in enumerate(items):
            ir, vis = _images(seed, [o[1] for o in objects])
            cv2.imwrite(
                osp.join(ir_dir, stem + '.jpg'),
                np.repeat(ir[..., None], 3, 2), [cv2.IMWRITE_JPEG_QUALITY, 95])
            cv2.imwrite(
                osp.join(vis_dir, stem + '.jpg'), vis,
                [cv2.IMWRITE_JPEG_QUALITY, 95])
            _voc(
                osp.join(ann, stem + '.xml'), stem + '.jpg', objects,
                'visible')


if __name__ == '__main__':
    make_fmb()
    make_m3fd()
    make_llvip()
