# Copyright (c) mmfusion contributors. All rights reserved.
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine.dataset import BaseDataset
from mmengine.registry import DefaultScope

from mmfusion.registry import DATASETS
from .annotations import (parse_voc_xml, parse_yolo_txt, read_split_file,
                          voc_to_instances, yolo_to_instances)
from .checks import (CHECK_LEVELS, check_mask_ids, check_pipeline_moves_labels,
                     image_size, mask_info, parallel_map)
from .pairing import index_images, pair_folders

DET_FORMATS = {'yolo': '.txt', 'voc': '.xml'}


@DATASETS.register_module()
class PairedImageDataset(BaseDataset):
    """Registered infrared/visible pairs in two folders, matched by name, with
    optional segmentation masks and detection boxes.

    ``data_prefix`` names the folders (relative to ``data_root``):

    - ``ir`` / ``vis`` (required): the two modalities. Pairs are matched by
      file name without extension (``a.png`` pairs with ``a.jpg``).
    - ``seg`` (optional): class-index masks named like the images.
    - ``det`` (optional): detection labels named like the images, YOLO txt
      (``det_format='yolo'``) or Pascal VOC xml (``'voc'``).
    - ``fused`` (optional): fused images of the pairs, named like them (any
      image extension), e.g. a fusion method's results; they become
      ``fused_path`` for :class:`~mmfusion.datasets.transforms.
      LoadModalityImage` (task-driven evaluation trains a task model on
      them). Extra images in the folder are ignored; a pair without a
      fused image, or with one of another size, is an error.

    Which labels are loaded is decided by the keys present, so one dataset
    class serves fusion-only, segmentation and detection configs. Data
    infos follow mmseg/mmdet: ``seg_map_path``/``reduce_zero_label`` for
    ``mmseg.LoadAnnotations`` and ``instances`` for
    ``mmdet.LoadAnnotations``; plus ``ir_path``, ``vis_path``, ``img_id``
    (the file stem), ``width`` and ``height`` (and ``fused_path``).

    Everything that could fail mid-training is checked when the dataset is
    built, with the offending file named: a missing counterpart, an
    unreadable or corrupt image, IR/VIS sizes that differ (unless
    ``resize_vis_to_ir``), a mask of another size, a mask class id outside
    the classes (``ignore_index`` excepted), a malformed label line, a box
    class outside the classes; and a pipeline whose geometric transforms
    would leave the loaded labels behind. Checks are parallel and cached
    per file (see :mod:`mmfusion.datasets.checks`).

    Args:
        data_root: root folder of the dataset.
        data_prefix: folders, see above.
        ann_file: optional split file listing the image names to use (one
            per line, extension optional). Without it every image of the
            ``ir`` folder is used and both folders must match one to one.
        det_format: ``'yolo'`` or ``'voc'``; defaults to the class's
            ``DET_FORMAT``.
        reduce_zero_label: masks store 0 = ignore and classes from 1
            (mmseg's convention; passed on to ``mmseg.LoadAnnotations``).
        ignore_index: mask id that marks ignored pixels.
        ignore_unknown_classes: skip VOC objects whose name is not a class
            instead of raising.
        resize_vis_to_ir: allow pairs whose VIS size differs from IR; the
            loader then resizes VIS to the IR size (labels must be at the IR
            size).
        check_images: how images are checked: ``'header'`` (default: header
            and PNG/JPEG end marker, which catches unreadable and truncated
            files with two small reads), ``'verify'`` (also every PNG chunk
            CRC: reads whole files) or ``'decode'`` (decodes the pixels).
        check_sizes: compare IR, VIS and mask sizes.
        check_labels: decode masks and check their class ids.
        check_pipeline: reject geometric transforms that would not move the
            loaded labels.
        num_check_workers: threads for the checks (default: CPU count, at
            most 8).
        **kwargs: see :class:`mmengine.dataset.BaseDataset` (``pipeline``,
            ``metainfo``, ``filter_cfg=dict(filter_empty_gt=True)`` drops
            pairs without boxes when training, ``test_mode`` ...).
    """

    METAINFO: dict = dict(classes=(), palette=())
    DET_FORMAT: Optional[str] = None
    PREFIX_KEYS = ('ir', 'vis', 'seg', 'det', 'fused')

    def __init__(self,
                 data_root: str = '',
                 data_prefix: dict = dict(ir='ir', vis='vi'),
                 ann_file: str = '',
                 metainfo: Optional[dict] = None,
                 det_format: Optional[str] = None,
                 reduce_zero_label: bool = False,
                 ignore_index: int = 255,
                 ignore_unknown_classes: bool = False,
                 resize_vis_to_ir: bool = False,
                 check_images: str = 'header',
                 check_sizes: bool = True,
                 check_labels: bool = True,
                 check_pipeline: bool = True,
                 num_check_workers: Optional[int] = None,
                 **kwargs):
        if not isinstance(data_prefix, dict) or \
                'ir' not in data_prefix or 'vis' not in data_prefix:
            raise KeyError("data_prefix must name both folders, e.g. "
                           "dict(ir='train/ir', vis='train/vi')")
        unknown = set(data_prefix) - set(self.PREFIX_KEYS)
        if unknown:
            raise KeyError(f'unknown data_prefix key(s) {sorted(unknown)}; '
                           f'expected {self.PREFIX_KEYS}')
        if check_images not in CHECK_LEVELS:
            raise ValueError(f'check_images must be one of {CHECK_LEVELS}, '
                             f'got {check_images!r}')
        self.with_seg = bool(data_prefix.get('seg'))
        self.with_det = bool(data_prefix.get('det'))
        det_format = det_format or self.DET_FORMAT
        if self.with_det and det_format not in DET_FORMATS:
            raise ValueError(
                f'{type(self).__name__} loads detection labels from '
                f'{data_prefix["det"]!r}: set det_format to one of '
                f'{tuple(DET_FORMATS)}, got {det_format!r}')
        self.det_format = det_format
        self.reduce_zero_label = reduce_zero_label
        self.ignore_index = ignore_index
        self.ignore_unknown_classes = ignore_unknown_classes
        self.resize_vis_to_ir = resize_vis_to_ir
        self.check_images = check_images
        self.check_sizes = check_sizes
        self.check_labels = check_labels
        self.check_pipeline = check_pipeline
        self.num_check_workers = num_check_workers
        # build the pipeline in mmfusion's scope when none is set (a dataset
        # built outside a Runner: tools, notebooks)
        scope = None if DefaultScope.get_current_instance() else 'mmfusion'
        with DefaultScope.overwrite_default_scope(scope):
            super().__init__(
                data_root=data_root,
                data_prefix=data_prefix,
                ann_file=ann_file,
                metainfo=self._task_metainfo(metainfo),
                **kwargs)

    # ------------------------------------------------------------------
    # metainfo
    # ------------------------------------------------------------------
    def _task_metainfo(self, metainfo: Optional[dict]) -> Optional[dict]:
        """Datasets that carry both masks and boxes declare
        ``det_classes``/``det_palette`` next to ``classes``/``palette`` (the
        segmentation ones). A detection-only config gets the detection
        classes as ``classes``, which is what mmdet's metrics read."""
        if self.with_det and not self.with_seg and \
                'det_classes' in self.METAINFO:
            task = dict(
                classes=self.METAINFO['det_classes'],
                palette=self.METAINFO.get('det_palette', []))
            return {**task, **(metainfo or {})}
        return metainfo

    @property
    def det_classes(self) -> Tuple[str, ...]:
        """Names indexed by the detection labels' class ids."""
        meta = self._metainfo
        if self.with_seg:
            return tuple(meta.get('det_classes', meta['classes']))
        return tuple(meta['classes'])

    @property
    def seg_classes(self) -> Tuple[str, ...]:
        """Names indexed by the mask ids."""
        return tuple(self._metainfo.get('classes', ()))

    # ------------------------------------------------------------------
    # loading
    # ------------------------------------------------------------------
    def pair_files(self) -> List[Tuple[str, str, str]]:
        """``(stem, ir_path, vis_path)`` of every pair (the split file
        applied, before any filtering or ``indices``), sorted by stem.

        Without a split file every image must have its partner; with one,
        every listed stem must be in both folders (other images are not
        read). Pairing follows :mod:`mmfusion.datasets.pairing`."""
        ir_dir, vis_dir = self.data_prefix['ir'], self.data_prefix['vis']
        if not self.ann_file:
            return pair_folders(ir_dir, vis_dir, unmatched='error').files()
        ir_files = index_images(ir_dir, 'IR')
        vis_files = index_images(vis_dir, 'VIS')
        stems = read_split_file(self.ann_file)
        for stem in stems:
            for files, folder, what in ((ir_files, ir_dir, 'IR'),
                                        (vis_files, vis_dir, 'VIS')):
                if stem not in files:
                    raise FileNotFoundError(
                        f'split file {self.ann_file} lists {stem} but '
                        f'there is no {what} image {stem}.* in {folder}')
        stems = sorted(set(stems))
        if not stems:
            raise FileNotFoundError(f'no images found in {ir_dir}')
        return [(stem, ir_files[stem], vis_files[stem]) for stem in stems]

    def _label_files(self, key: str, suffixes: Sequence[str],
                     what: str) -> Dict[str, str]:
        folder = self.data_prefix[key]
        if not osp.isdir(folder):
            raise FileNotFoundError(f'{what} folder {folder} does not exist')
        files = {}
        for name in os.listdir(folder):
            stem, ext = osp.splitext(name)
            if ext.lower() in suffixes:
                files[stem] = osp.join(folder, name)
        return files

    def _check_pair(self, item: tuple) -> dict:
        stem, ir_path, vis_path, seg_path, det_path, fused_path = item
        level = self.check_images
        info = dict(img_id=stem, ir_path=ir_path, vis_path=vis_path)
        w, h = image_size(ir_path, level)
        if fused_path is not None:
            fw, fh = image_size(fused_path, level)
            if self.check_sizes and (fw, fh) != (w, h):
                raise ValueError(
                    f'fused image {fused_path} is {fw}x{fh} but its pair '
                    f'({ir_path}) is {w}x{h}')
            info['fused_path'] = fused_path
        vis_w, vis_h = image_size(vis_path, level)
        if self.check_sizes and (vis_w, vis_h) != (w, h):
            if not self.resize_vis_to_ir:
                raise ValueError(
                    f'IR image {ir_path} is {w}x{h} but its VIS pair '
                    f'{vis_path} is {vis_w}x{vis_h}; register/resize the '
                    'pair, or set `resize_vis_to_ir=True` in the dataset '
                    'config to resize VIS to IR when loading')
            info['resize_vis_to_ir'] = True
        info.update(width=w, height=h)
        if seg_path is not None:
            if self.check_labels:
                mw, mh, ids = mask_info(seg_path)
                check_mask_ids(seg_path, ids, len(self.seg_classes),
                               self.ignore_index, self.reduce_zero_label)
            elif self.check_sizes:
                mw, mh = image_size(seg_path, 'header')
            if (self.check_labels or self.check_sizes) and (mw, mh) != (w, h):
                raise ValueError(
                    f'segmentation label {seg_path} is {mw}x{mh} but its '
                    f'images are {w}x{h} ({ir_path})')
            info.update(
                seg_map_path=seg_path,
                seg_fields=[],
                reduce_zero_label=self.reduce_zero_label)
        if det_path is not None:
            if self.det_format == 'yolo':
                instances = yolo_to_instances(
                    parse_yolo_txt(det_path), w, h, len(self.det_classes),
                    det_path)
            else:
                instances = voc_to_instances(
                    parse_voc_xml(det_path), self.det_classes, w, h, det_path,
                    self.ignore_unknown_classes)
            info.update(det_path=det_path, instances=instances)
        return info

    def load_data_list(self) -> List[dict]:
        """Pair the files, attach labels and check everything (see class
        docstring)."""
        owner = f'{type(self).__name__}(data_root={self.data_root!r})'
        if self.check_pipeline:
            check_pipeline_moves_labels(self.pipeline.transforms,
                                        self.with_seg, self.with_det, owner)
        if self.with_seg and self.check_labels and not self.seg_classes:
            raise ValueError(
                f'{owner} loads segmentation masks but has no classes to '
                'check them against: set metainfo=dict(classes=..., '
                'palette=...)')
        if self.with_det and not self.det_classes:
            raise ValueError(
                f'{owner} loads detection labels but has no classes: set '
                'metainfo=dict(classes=..., palette=...)')
        pairs = self.pair_files()
        seg_files = det_files = fused_files = {}
        with_fused = bool(self.data_prefix.get('fused'))
        if with_fused:
            fused_files = index_images(self.data_prefix['fused'],
                                       'fused image')
        if self.with_seg:
            seg_files = index_images(self.data_prefix['seg'],
                                     'segmentation label')
        if self.with_det:
            suffix = DET_FORMATS[self.det_format]
            det_files = self._label_files('det', (suffix, ), 'detection label')
        items = []
        for stem, ir_path, vis_path in pairs:
            seg_path = det_path = fused_path = None
            if with_fused:
                fused_path = fused_files.get(stem)
                if fused_path is None:
                    raise FileNotFoundError(
                        f'IR/VIS pair {ir_path} has no fused image '
                        f'{stem}.png (or another image extension) in '
                        f'{self.data_prefix["fused"]}')
            if self.with_seg:
                seg_path = seg_files.get(stem)
                if seg_path is None:
                    raise FileNotFoundError(
                        f'IR/VIS pair {ir_path} has no segmentation label '
                        f'{stem}.png in {self.data_prefix["seg"]}')
            if self.with_det:
                det_path = det_files.get(stem)
                if det_path is None:
                    raise FileNotFoundError(
                        f'IR/VIS pair {ir_path} has no detection label '
                        f'{stem}{DET_FORMATS[self.det_format]} in '
                        f'{self.data_prefix["det"]} (an image without '
                        'objects needs an empty label file)')
            items.append(
                (stem, ir_path, vis_path, seg_path, det_path, fused_path))
        return parallel_map(self._check_pair, items, self.num_check_workers)

    def filter_data(self) -> List[dict]:
        """With ``filter_cfg=dict(filter_empty_gt=True)`` (and not
        ``test_mode``), drop pairs that have no non-ignored box."""
        if self.test_mode or not self.filter_cfg or not self.with_det:
            return self.data_list
        if not self.filter_cfg.get('filter_empty_gt', False):
            return self.data_list
        return [
            info for info in self.data_list
            if any(not inst['ignore_flag'] for inst in info['instances'])
        ]


__all__ = ['PairedImageDataset']
