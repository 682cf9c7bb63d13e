# Copyright (c) mmfusion contributors. All rights reserved.
"""Readers and writers of the label formats the fusion datasets ship.

* **YOLO txt** (MSRS ``Detection_labels``, TarDAL's ``labels``): one object
  per line, ``class cx cy w h``, coordinates normalised to [0, 1] by the
  image width/height; an empty file means no object. A line
  ``class x1 y1 x2 y2 ... xn yn`` (n >= 3, YOLO's segmentation format) is an
  object with an instance mask: its polygon, and the polygon's extent as box.
* **Pascal VOC xml** (M3FD ``Annotation``, LLVIP ``Annotations``): one
  ``<object>`` per box with ``<name>``, optional ``<difficult>`` and a
  ``<bndbox>`` in 1-based inclusive pixel coordinates.
* **split files** (TarDAL's ``meta/train.txt`` ...): one image name per line,
  with or without extension.

Boxes are returned as mmdet's ``instances``: ``dict(bbox=[x1, y1, x2, y2],
bbox_label=int, ignore_flag=0|1)`` in 0-based pixel coordinates
(``x2``/``y2`` exclusive), clipped to the image. Every error names the file
(and line / object).
"""
import math
import os.path as osp
import xml.etree.ElementTree as ET
from typing import Dict, List, Sequence, Tuple

from .checks import cached_file_call

# line, cls, cx, cy, w, h [, polygon (normalised x1, y1, x2, y2, ...)]
YoloRow = tuple


def _parse_yolo(path: str) -> List[YoloRow]:
    try:
        with open(path, encoding='utf-8') as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f'cannot read detection label {path}: {e}') from e
    rows = []
    for lineno, line in enumerate(lines, 1):
        fields = line.split()
        if not fields:
            continue  # blank line
        polygon = None
        try:
            if len(fields) != 5 and (len(fields) < 7 or len(fields) % 2 == 0):
                raise ValueError(f'{len(fields)} fields')
            cls = float(fields[0])
            if not cls.is_integer():
                raise ValueError('class id is not an integer')
            values = [float(v) for v in fields[1:]]
            if not all(math.isfinite(v) for v in values):
                raise ValueError('non-finite coordinate')
            if not all(0 <= v <= 1 for v in values):
                raise ValueError('coordinates are not normalised to [0, 1]')
            if len(fields) > 5:  # a polygon: its extent is the box
                polygon = values
                xs, ys = values[0::2], values[1::2]
                values = [(min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2,
                          max(xs) - min(xs),
                          max(ys) - min(ys)]
            if values[2] <= 0 or values[3] <= 0:
                raise ValueError('box width/height must be > 0')
        except ValueError as e:
            raise ValueError(
                f'malformed detection label {path} line {lineno}: {line!r} '
                f'({e}); expected "class cx cy w h" with cx, cy, w, h '
                'normalised to [0, 1] (or "class x1 y1 ... xn yn", a '
                'normalised polygon of n >= 3 points)') from None
        rows.append((lineno, int(cls), *values) +
                    ((polygon, ) if polygon is not None else ()))
    return rows


def parse_yolo_txt(path: str) -> List[YoloRow]:
    """Rows ``(line, class, cx, cy, w, h)`` of a YOLO label file (cached).

    Raises:
        ValueError: naming the file and line of a malformed line.
    """
    return cached_file_call(path, 'yolo', _parse_yolo)


def yolo_to_instances(rows: Sequence[YoloRow], width: int, height: int,
                      num_classes: int, path: str) -> List[dict]:
    """Convert YOLO rows to mmdet ``instances`` for a ``width x height``
    image, checking that class ids index the dataset's classes."""
    instances = []
    for row in rows:
        lineno, cls, cx, cy, w, h = row[:6]
        if not 0 <= cls < num_classes:
            raise ValueError(
                f'detection label {path} line {lineno}: class id {cls} '
                f'outside the dataset\'s {num_classes} detection classes '
                f'(0..{num_classes - 1})')
        x1 = max(0., (cx - w / 2) * width)
        y1 = max(0., (cy - h / 2) * height)
        x2 = min(float(width), (cx + w / 2) * width)
        y2 = min(float(height), (cy + h / 2) * height)
        instance = dict(bbox=[x1, y1, x2, y2], bbox_label=cls, ignore_flag=0)
        if len(row) > 6:  # instance mask (mmdet: a list of polygons)
            polygon = [
                v * (width if i % 2 == 0 else height)
                for i, v in enumerate(row[6])
            ]
            instance['mask'] = [polygon]
        instances.append(instance)
    return instances


def instances_to_yolo(instances: Sequence[dict], width: int,
                      height: int) -> List[str]:
    """Lines ``class cx cy w h`` (6 decimals) of mmdet ``instances``."""
    lines = []
    for inst in instances:
        x1, y1, x2, y2 = inst['bbox']
        lines.append(f'{inst["bbox_label"]} {(x1 + x2) / 2 / width:.6f} '
                     f'{(y1 + y2) / 2 / height:.6f} {(x2 - x1) / width:.6f} '
                     f'{(y2 - y1) / height:.6f}')
    return lines


VocObject = Tuple[int, str, int, float, float, float, float]


def _parse_voc(path: str) -> dict:
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as e:
        raise ValueError(f'cannot parse detection label {path}: {e}') from e
    size = None
    size_el = root.find('size')
    if size_el is not None:
        try:
            size = (int(float(size_el.findtext('width'))),
                    int(float(size_el.findtext('height'))))
        except (TypeError, ValueError):
            raise ValueError(
                f'malformed detection label {path}: <size> needs numeric '
                '<width> and <height>') from None
    objects = []
    for index, obj in enumerate(root.findall('object')):
        where = f'detection label {path} object #{index}'
        name = (obj.findtext('name') or '').strip()
        box = obj.find('bndbox')
        if not name or box is None:
            raise ValueError(f'malformed {where}: every <object> needs a '
                             '<name> and a <bndbox>')
        try:
            xmin, ymin, xmax, ymax = (
                float(box.findtext(k))
                for k in ('xmin', 'ymin', 'xmax', 'ymax'))
            difficult = int(float(obj.findtext('difficult') or 0))
        except (TypeError, ValueError):
            raise ValueError(
                f'malformed {where} ({name}): <bndbox> needs numeric '
                '<xmin>, <ymin>, <xmax>, <ymax>') from None
        if not all(map(math.isfinite, (xmin, ymin, xmax, ymax))) or \
                xmax < xmin or ymax < ymin:
            raise ValueError(
                f'malformed {where} ({name}): box ({xmin}, {ymin}, {xmax}, '
                f'{ymax}) needs xmin <= xmax and ymin <= ymax')
        objects.append((index, name, difficult, xmin, ymin, xmax, ymax))
    return dict(size=size, objects=objects)


def parse_voc_xml(path: str) -> dict:
    """``dict(size=(w, h) | None, objects=[(index, name, difficult, xmin,
    ymin, xmax, ymax)])`` of a Pascal VOC annotation (cached)."""
    return cached_file_call(path, 'voc', _parse_voc)


def voc_to_instances(parsed: dict,
                     classes: Sequence[str],
                     width: int,
                     height: int,
                     path: str,
                     ignore_unknown: bool = False) -> List[dict]:
    """Convert a parsed VOC annotation to mmdet ``instances``.

    VOC boxes are 1-based and inclusive: ``x1 = xmin - 1``, ``x2 = xmax``.
    ``difficult`` objects get ``ignore_flag=1``. Names not in ``classes``
    raise unless ``ignore_unknown``.
    """
    size = parsed['size']
    if size is not None and size != (0, 0) and size != (width, height):
        raise ValueError(
            f'detection label {path} is for a {size[0]}x{size[1]} image but '
            f'its images are {width}x{height}')
    cat2label = {name: i for i, name in enumerate(classes)}
    instances = []
    for index, name, difficult, xmin, ymin, xmax, ymax in parsed['objects']:
        if name not in cat2label:
            if ignore_unknown:
                continue
            raise ValueError(
                f'detection label {path} object #{index}: class {name!r} is '
                f'not one of the dataset\'s classes {tuple(classes)}; set '
                '`ignore_unknown_classes=True` to skip such objects')
        x1, y1 = max(0., xmin - 1), max(0., ymin - 1)
        x2, y2 = min(float(width), xmax), min(float(height), ymax)
        instances.append(
            dict(
                bbox=[x1, y1, x2, y2],
                bbox_label=cat2label[name],
                ignore_flag=int(bool(difficult))))
    return instances


def read_split_file(path: str) -> List[str]:
    """Image names (stems, extension dropped) listed one per line."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'split file {path} does not exist')
    with open(path, encoding='utf-8') as f:
        names = [line.strip() for line in f]
    stems = []
    for name in names:
        if not name:
            continue
        # TarDAL lists '00000.png', others bare ids; take the first column
        stems.append(osp.splitext(osp.basename(name.split()[0]))[0])
    if not stems:
        raise ValueError(f'split file {path} lists no image')
    return stems


def to_coco(images: Sequence[dict],
            classes: Sequence[str],
            img_id_type: str = 'stem') -> dict:
    """A COCO detection dict from ``images``.

    Args:
        images: ``dict(img_id, file_name, width, height, instances)`` each,
            ``instances`` as returned by :func:`yolo_to_instances` /
            :func:`voc_to_instances`.
        classes: category names; COCO category ids are 1-based.
        img_id_type: ``'stem'`` uses the file stem as COCO image id, the
            ``img_id`` mmfusion's data samples carry, so mmdet's
            ``CocoMetric`` matches predictions to this file directly;
            ``'int'`` numbers images 1..N (strict COCO consumers).
    """
    if img_id_type not in ('stem', 'int'):
        raise ValueError(f"img_id_type must be 'stem' or 'int', got "
                         f'{img_id_type!r}')
    coco: Dict[str, list] = dict(
        images=[],
        annotations=[],
        categories=[
            dict(id=i + 1, name=name, supercategory='none')
            for i, name in enumerate(classes)
        ])
    ann_id = 1
    for index, img in enumerate(images, 1):
        img_id = img['img_id'] if img_id_type == 'stem' else index
        coco['images'].append(
            dict(
                id=img_id,
                file_name=img['file_name'],
                width=img['width'],
                height=img['height']))
        for inst in img['instances']:
            x1, y1, x2, y2 = inst['bbox']
            w, h = x2 - x1, y2 - y1
            coco['annotations'].append(
                dict(
                    id=ann_id,
                    image_id=img_id,
                    category_id=inst['bbox_label'] + 1,
                    bbox=[round(v, 3) for v in (x1, y1, w, h)],
                    area=round(w * h, 3),
                    # COCOeval ignores crowd boxes: VOC 'difficult'
                    iscrowd=int(inst.get('ignore_flag', 0)),
                    ignore=int(inst.get('ignore_flag', 0))))
            ann_id += 1
    return coco


def dataset_to_coco(dataset, img_id_type: str = 'stem') -> dict:
    """COCO detection dict of a built mmfusion dataset with ``det`` labels
    (its checks, classes and box conversion included)."""
    if not getattr(dataset, 'with_det', False):
        raise ValueError(f'{type(dataset).__name__} was built without '
                         "detection labels (data_prefix has no 'det')")
    images = []
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        images.append(
            dict(
                img_id=info['img_id'],
                file_name=osp.basename(info['vis_path']),
                width=info['width'],
                height=info['height'],
                instances=info['instances']))
    return to_coco(images, dataset.det_classes, img_id_type)


__all__ = [
    'parse_yolo_txt', 'yolo_to_instances', 'instances_to_yolo',
    'parse_voc_xml', 'voc_to_instances', 'read_split_file', 'to_coco',
    'dataset_to_coco'
]
