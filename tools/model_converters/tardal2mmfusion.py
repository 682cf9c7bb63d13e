# Copyright (c) mmfusion contributors. All rights reserved.
"""Convert a TarDAL generator checkpoint (JinyuanLiu-CV/TarDAL: the released
``weights/tardal.pt``, ``tardal+.pt``, ``tardal++.pt``, or a training
checkpoint of its code) to an mmfusion checkpoint for the configs in
``configs/tardal/``.

    python tools/model_converters/tardal2mmfusion.py SRC DST

The released files carry no inference setting; run them with the config of
their name (``tardal_official_msrs.py`` for ``tardal.pt``,
``tardal_plus_official_msrs.py``, ``tardal_plusplus_official_msrs.py``):
they differ in the BatchNorm mode (``docs/tardal.md``).
"""
import argparse

import torch

import mmfusion  # noqa: F401  (compatibility patches)
from mmfusion.models import TarDALGenerator
from mmfusion.models.utils.ckpt_convert import (check_loads, convert_to_model,
                                                save_mmfusion_checkpoint,
                                                tardal_convert,
                                                tardal_generator_state)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert official TarDAL generator weights to mmfusion '
        '(TarDALGenerator inside FusionModel)')
    parser.add_argument('src', help='official checkpoint')
    parser.add_argument('dst', help='output mmfusion checkpoint')
    parser.add_argument(
        '--prefix',
        default='fusion_net.',
        help="key prefix of the net in the model (default 'fusion_net.' of "
        "FusionModel; '' for a bare TarDALGenerator state_dict)")
    return parser.parse_args(argv)


def load(path: str):
    """The generator tensors of ``path`` and its ``use_eval`` flag."""
    import os.path as osp
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint {path} does not exist')
    try:
        checkpoint = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as e:  # pickle errors, truncated files, not a zip ...
        raise RuntimeError(f'cannot read {path} as a PyTorch checkpoint: '
                           f'{e}') from e
    return tardal_generator_state(checkpoint, path)


def main(argv=None):
    args = parse_args(argv)
    src, use_eval = load(args.src)
    state = tardal_convert(src, source=args.src)
    # the width and depth of the file (32 and 3 in the released ones)
    dim = state['stem.conv.weight'].shape[0] if 'stem.conv.weight' in \
        state else 32
    depth = sum(1 for k in state
                if k.endswith('.conv.weight') and k.startswith('dense.'))
    check_loads(
        TarDALGenerator(dim=dim, depth=depth), state,
        'TarDAL generator weights')
    meta = dict(
        converted_from=args.src,
        source='JinyuanLiu-CV/TarDAL',
        dim=dim,
        depth=depth)
    if use_eval is not None:
        meta['use_eval'] = use_eval
    save_mmfusion_checkpoint(
        convert_to_model(state, args.prefix), args.dst, meta=meta)
    tracked = [
        int(v) for k, v in state.items() if k.endswith('num_batches_tracked')
    ]
    print(f'{args.src}: {len(src)} tensors -> {len(state)} of '
          f'TarDALGenerator(dim={dim}, depth={depth}) (BatchNorm batches '
          f'tracked: {max(tracked)}' +
          ('' if use_eval is None else f'; use_eval={use_eval}') +
          f'), written to {args.dst}')


if __name__ == '__main__':
    main()
