# Copyright (c) mmfusion contributors. All rights reserved.
import os
import os.path as osp
from typing import Dict, List, Optional

from mmengine.dataset import BaseDataset
from PIL import Image

from mmfusion.registry import DATASETS

IMG_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff')


def list_images(folder: str, what: str) -> Dict[str, str]:
    """Map file stem -> file name for the images of ``folder``.

    Raises a clear error if the folder is missing or holds two files with the
    same stem (``a.png`` and ``a.jpg``), which would make pairing ambiguous.
    """
    if not osp.isdir(folder):
        raise FileNotFoundError(f'{what} folder {folder} does not exist')
    stems: Dict[str, str] = {}
    for name in sorted(os.listdir(folder)):
        stem, ext = osp.splitext(name)
        if ext.lower() not in IMG_EXTENSIONS:
            continue
        if stem in stems:
            raise ValueError(
                f'{what} folder {folder} holds both {stems[stem]} and {name}: '
                'pairs are matched by file name without extension')
        stems[stem] = name
    return stems


def image_size(path: str) -> tuple:
    """(width, height) read from the file header, without decoding pixels."""
    try:
        with Image.open(path) as img:
            return img.size
    except Exception as e:  # PIL raises several types for bad files
        raise ValueError(f'cannot read image {path}: {e}') from e


@DATASETS.register_module()
class PairedImageDataset(BaseDataset):
    """Registered infrared/visible pairs in two folders, matched by name.

    ``data_prefix=dict(ir='ir', vis='vi')`` names the two folders (relative to
    ``data_root``); file extensions may differ between them. Every IR image
    must have a VIS counterpart of the same size (and vice versa): both are
    checked from the image headers when the dataset is built, so bad data
    fails before training starts, with the offending file named.

    Args:
        check_sizes: compare IR/VIS sizes at build time (header reads only).
        **kwargs: see :class:`mmengine.dataset.BaseDataset`.
    """

    METAINFO: dict = dict(classes=(), palette=())

    def __init__(self,
                 data_root: str = '',
                 data_prefix: dict = dict(ir='ir', vis='vi'),
                 check_sizes: bool = True,
                 **kwargs):
        self.check_sizes = check_sizes
        super().__init__(
            data_root=data_root, data_prefix=data_prefix, **kwargs)

    def _pair_files(self) -> List[tuple]:
        ir_dir = self.data_prefix.get('ir')
        vis_dir = self.data_prefix.get('vis')
        if ir_dir is None or vis_dir is None:
            raise KeyError("data_prefix must name both folders, e.g. "
                           "dict(ir='train/ir', vis='train/vi')")
        ir_files = list_images(ir_dir, 'IR')
        vis_files = list_images(vis_dir, 'VIS')
        for stem, name in ir_files.items():
            if stem not in vis_files:
                raise FileNotFoundError(
                    f'IR image {osp.join(ir_dir, name)} has no VIS '
                    f'counterpart named {stem}.* in {vis_dir}')
        for stem, name in vis_files.items():
            if stem not in ir_files:
                raise FileNotFoundError(
                    f'VIS image {osp.join(vis_dir, name)} has no IR '
                    f'counterpart named {stem}.* in {ir_dir}')
        if not ir_files:
            raise FileNotFoundError(f'no images found in {ir_dir}')
        pairs = []
        for stem in sorted(ir_files):
            ir_path = osp.join(ir_dir, ir_files[stem])
            vis_path = osp.join(vis_dir, vis_files[stem])
            if self.check_sizes:
                ir_size, vis_size = image_size(ir_path), image_size(vis_path)
                if ir_size != vis_size:
                    raise ValueError(
                        f'IR image {ir_path} is {ir_size[0]}x{ir_size[1]} but '
                        f'its VIS pair {vis_path} is {vis_size[0]}x'
                        f'{vis_size[1]}; register/resize the pair or fix the '
                        'data')
            pairs.append((stem, ir_path, vis_path))
        return pairs

    def load_data_list(self) -> List[dict]:
        return [
            dict(img_id=stem, ir_path=ir_path, vis_path=vis_path)
            for stem, ir_path, vis_path in self._pair_files()
        ]
