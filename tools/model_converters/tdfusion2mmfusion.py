# Copyright (c) mmfusion contributors. All rights reserved.
"""Convert TDFusion checkpoints (HaowenBai/TDFusion) to mmfusion.

The released ``models/TDFusion_{MSRS,FMB,M3FD,LLVIP}.pth`` are state_dicts of
the fusion net ``ReFusion`` -> :class:`ReFusionNet`. A state_dict of the loss
generation module ``LPN`` (from its training script) converts with
``--net loss_generator`` -> :class:`TDFusionLossGenerator`.

    python tools/model_converters/tdfusion2mmfusion.py SRC DST \
        [--net {fusion_net,loss_generator}] [--prefix PREFIX]
"""
import argparse

import mmfusion  # noqa: F401  (compatibility patches)
from mmfusion.models import ReFusionNet, TDFusionLossGenerator
from mmfusion.models.utils.ckpt_convert import (check_loads, convert_to_model,
                                                load_source_checkpoint,
                                                save_mmfusion_checkpoint,
                                                tdfusion_convert)

NETS = dict(fusion_net=ReFusionNet, loss_generator=TDFusionLossGenerator)


def parse_args():
    parser = argparse.ArgumentParser(
        description='Convert TDFusion ReFusion/LPN weights to mmfusion')
    parser.add_argument('src', help='TDFusion checkpoint (state_dict)')
    parser.add_argument('dst', help='output mmfusion checkpoint')
    parser.add_argument(
        '--net',
        choices=list(NETS),
        default='fusion_net',
        help='which TDFusion network SRC holds (default: the fusion net)')
    parser.add_argument(
        '--prefix',
        default=None,
        help="key prefix in the model (default '<net>.', e.g. 'fusion_net.'; "
        "'' for a bare state_dict)")
    return parser.parse_args()


def main():
    args = parse_args()
    prefix = f'{args.net}.' if args.prefix is None else args.prefix
    src = load_source_checkpoint(args.src)
    state = tdfusion_convert(src, net=args.net, source=args.src)
    check_loads(NETS[args.net](), state, f'TDFusion {args.net}')
    save_mmfusion_checkpoint(
        convert_to_model(state, prefix),
        args.dst,
        meta=dict(converted_from=args.src, source='HaowenBai/TDFusion'))
    print(f'{args.src}: {len(src)} keys -> {len(state)} parameters of '
          f'{NETS[args.net].__name__} (duplicate Meta-layer entries merged), '
          f'written to {args.dst}')


if __name__ == '__main__':
    main()
