# Copyright (c) mmfusion contributors. All rights reserved.
"""Pairing a folder of infrared images with a folder of visible images.

The one rule, used by the datasets (:class:`~mmfusion.datasets.
PairedImageDataset` and its subclasses), by :class:`~mmfusion.apis.
FusionInferencer` / ``tools/fuse.py``, by folder evaluation
(``tools/analysis_tools/eval_fused.py``) and by the task-gain experiment:

* **images**: the files directly in a folder whose extension, in any case,
  is one of :data:`IMG_EXTENSIONS` (``a.PNG`` counts); other files and
  sub-folders are ignored;
* **names**: an image is known by its file name without the extension,
  compared case-sensitively: IR ``00001D.png`` pairs with VIS
  ``00001D.jpg``, not with ``00001d.png``;
* **duplicate names are an error**: a folder holding two images of one name
  (``a.png`` and ``a.jpg``) cannot be paired unambiguously, and the error
  names both files;
* **unmatched names** (an image without a partner in the other folder) are
  an error naming the image with ``unmatched='error'`` (the datasets: every
  image of a split must have its partner), or a warning counting them with
  ``unmatched='warn'`` (fusing or scoring whatever pairs a folder holds).
  Either way, folders without a single pair are an error.
"""
import os
import os.path as osp
import warnings
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

__all__ = [
    'IMG_EXTENSIONS', 'UNMATCHED_POLICIES', 'FolderPairs', 'index_images',
    'pair_folders'
]

#: extensions (lower case) of the files taken as images
IMG_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff')
#: what :func:`pair_folders` does with an image without partner
UNMATCHED_POLICIES = ('error', 'warn')


def index_images(folder: str, what: str = 'image') -> Dict[str, str]:
    """``{name: path}`` of the images directly in ``folder`` (sorted by
    name; ``name`` is the file name without extension).

    Args:
        folder: the folder.
        what: what the folder holds, for the error messages (``'IR'``,
            ``'fused image'`` ...).

    Raises:
        FileNotFoundError: if ``folder`` is not a folder.
        ValueError: naming both files, if two images share a name.
    """
    if not osp.isdir(folder):
        raise FileNotFoundError(f'{what} folder {folder} does not exist')
    index: Dict[str, str] = {}
    with os.scandir(folder) as entries:
        files = sorted(e.name for e in entries if e.is_file())
    for file_name in files:
        name, ext = osp.splitext(file_name)
        if ext.lower() not in IMG_EXTENSIONS:
            continue
        if name in index:
            raise ValueError(
                f'{what} folder {folder} holds both '
                f'{osp.basename(index[name])} and {file_name}: pairs are '
                'matched by file name without extension')
        index[name] = osp.join(folder, file_name)
    return index


@dataclass
class FolderPairs:
    """The pairs of two folders (see :func:`pair_folders`)."""
    ir_dir: str
    vis_dir: str
    #: ``{name: path}`` of every image of each folder
    ir: Dict[str, str]
    vis: Dict[str, str]
    #: names in both folders, sorted
    names: List[str] = field(default_factory=list)
    #: names in one folder only, sorted
    unmatched: List[str] = field(default_factory=list)

    def files(self) -> List[Tuple[str, str, str]]:
        """``[(name, ir_path, vis_path)]`` of every pair, sorted by name."""
        return [(n, self.ir[n], self.vis[n]) for n in self.names]

    def __len__(self) -> int:
        return len(self.names)


def pair_folders(ir_dir: str,
                 vis_dir: str,
                 unmatched: str = 'error') -> FolderPairs:
    """Pair the images of ``ir_dir`` and ``vis_dir`` by name (the module's
    rule).

    Args:
        ir_dir, vis_dir: the two folders.
        unmatched: ``'error'``: an image without a partner in the other
            folder raises ``FileNotFoundError`` naming it; ``'warn'``: such
            images are left out with one warning (and listed in
            :attr:`FolderPairs.unmatched`).

    Raises:
        FileNotFoundError: a missing folder; an unmatched image
            (``unmatched='error'``).
        ValueError: two images of one name in a folder; no pair at all.
    """
    if unmatched not in UNMATCHED_POLICIES:
        raise ValueError(f'unmatched must be one of {UNMATCHED_POLICIES}, '
                         f'got {unmatched!r}')
    ir = index_images(ir_dir, 'IR')
    vis = index_images(vis_dir, 'VIS')
    pairs = FolderPairs(
        ir_dir=ir_dir,
        vis_dir=vis_dir,
        ir=ir,
        vis=vis,
        names=sorted(set(ir) & set(vis)),
        unmatched=sorted(set(ir) ^ set(vis)))
    if unmatched == 'error':
        for index, other, what, where in ((ir, vis, 'IR VIS', vis_dir),
                                          (vis, ir, 'VIS IR', ir_dir)):
            for name, path in index.items():
                if name not in other:
                    mine, theirs = what.split()
                    raise FileNotFoundError(
                        f'{mine} image {path} has no {theirs} counterpart '
                        f'named {name}.* in {where}')
    if not pairs.names:
        raise ValueError(f'no IR/VIS pairs: no image name is in both '
                         f'{ir_dir} and {vis_dir}')
    if pairs.unmatched:
        warnings.warn(f'{len(pairs.unmatched)} image(s) without a partner in '
                      f'the other folder ({ir_dir}, {vis_dir}) are ignored, '
                      f'e.g. {pairs.unmatched[0]!r}')
    return pairs
