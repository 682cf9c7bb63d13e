# Copyright (c) mmfusion contributors. All rights reserved.
"""Write train/val split files for a paired dataset without an official
split (M3FD): a seeded random split of the pairs, one image name per line,
as TarDAL's ``meta/train.txt`` / ``meta/val.txt`` (``00000.png``).

Only complete pairs are listed (the IR and VIS folders are matched by name,
and by default the label folder must hold the image's label too).

Example (M3FD, 3600 train / 600 val as BDLFusion)::

    python tools/dataset_converters/make_split.py data/M3FD --val 600
"""
import argparse
import os
import os.path as osp
import random

from mmfusion.datasets.pairing import index_images


def parse_args():
    parser = argparse.ArgumentParser(
        description='Random train/val split files of a paired dataset')
    parser.add_argument('data_root')
    parser.add_argument('--ir', default='Ir', help='IR folder (M3FD: Ir)')
    parser.add_argument('--vis', default='Vis', help='VIS folder (M3FD: Vis)')
    parser.add_argument(
        '--det',
        default='Annotation',
        help='label folder that must hold a label of every listed pair '
        "('' to not require labels)")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument('--val', type=int, help='number of validation pairs')
    group.add_argument(
        '--val-ratio', type=float, help='fraction of validation pairs')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out-dir', default='meta', help='under data_root')
    return parser.parse_args()


def make_split(data_root,
               ir='Ir',
               vis='Vis',
               det='Annotation',
               val=None,
               val_ratio=None,
               seed=0):
    """Return ``(train_names, val_names)`` (file names of the IR images)."""
    ir_files = index_images(osp.join(data_root, ir), 'IR')
    vis_files = index_images(osp.join(data_root, vis), 'VIS')
    stems = sorted(set(ir_files) & set(vis_files))
    if det:
        labels = {
            osp.splitext(n)[0]
            for n in os.listdir(osp.join(data_root, det))
        }
        stems = [s for s in stems if s in labels]
    if not stems:
        raise FileNotFoundError(f'no complete pair under {data_root}')
    n_val = val if val is not None else round(len(stems) * val_ratio)
    if not 0 < n_val < len(stems):
        raise ValueError(f'cannot hold out {n_val} of {len(stems)} pairs')
    shuffled = stems[:]
    random.Random(seed).shuffle(shuffled)
    val_stems = set(shuffled[:n_val])
    train = [osp.basename(ir_files[s]) for s in stems if s not in val_stems]
    val_names = [osp.basename(ir_files[s]) for s in stems if s in val_stems]
    return train, val_names


def main():
    args = parse_args()
    train, val = make_split(args.data_root, args.ir, args.vis, args.det,
                            args.val, args.val_ratio, args.seed)
    out_dir = osp.join(args.data_root, args.out_dir)
    os.makedirs(out_dir, exist_ok=True)
    for name, names in (('train', train), ('val', val)):
        with open(osp.join(out_dir, f'{name}.txt'), 'w') as f:
            f.write('\n'.join(names) + '\n')
    print(f'{out_dir}: train.txt {len(train)} pairs, val.txt {len(val)} '
          f'pairs (seed {args.seed})')


if __name__ == '__main__':
    main()
