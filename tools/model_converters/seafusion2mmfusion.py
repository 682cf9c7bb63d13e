# Copyright (c) mmfusion contributors. All rights reserved.
"""Convert the released SeAFusion checkpoint (Linfeng-Tang/SeAFusion,
``model/Fusion/fusionmodel_final.pth``) to an mmfusion checkpoint for
``configs/seafusion/seafusion_msrs.py``.

    python tools/model_converters/seafusion2mmfusion.py SRC DST
"""
import argparse

import mmfusion  # noqa: F401  (compatibility patches)
from mmfusion.models import SeAFusionNet
from mmfusion.models.utils.ckpt_convert import (check_loads, convert_to_model,
                                                load_source_checkpoint,
                                                save_mmfusion_checkpoint,
                                                seafusion_convert)


def parse_args():
    parser = argparse.ArgumentParser(
        description='Convert the official SeAFusion FusionNet weights to '
        'mmfusion (SeAFusionNet inside FusionModel)')
    parser.add_argument('src', help='official checkpoint (state_dict)')
    parser.add_argument('dst', help='output mmfusion checkpoint')
    parser.add_argument(
        '--prefix',
        default='fusion_net.',
        help="key prefix of the net in the model (default 'fusion_net.' of "
        "FusionModel; '' for a bare SeAFusionNet state_dict)")
    return parser.parse_args()


def main():
    args = parse_args()
    src = load_source_checkpoint(args.src)
    state = seafusion_convert(src, source=args.src)
    check_loads(SeAFusionNet(), state, 'SeAFusion weights')
    save_mmfusion_checkpoint(
        convert_to_model(state, args.prefix),
        args.dst,
        meta=dict(converted_from=args.src, source='Linfeng-Tang/SeAFusion'))
    print(f'{args.src}: {len(src)} keys -> {len(state)} parameters of '
          f'SeAFusionNet ({len(src) - len(state)} unused BatchNorm entries '
          f'dropped), written to {args.dst}')


if __name__ == '__main__':
    main()
