# Copyright (c) mmfusion contributors. All rights reserved.
"""Convert BDLFusion checkpoints (LiuZhu-CV/BDLFusion) to mmfusion.

A ``Network_IJCAI`` state_dict (``model_meta1_*.pth``, the warm start
``model_ijcai_fusion_add_1.pth``) holds the fusion net ``enhance_net``
-> :class:`DRDBFusionNet`, the discriminator -> :class:`PixelDiscriminator`
and the FCOS detector ``denoise_net``, which is not converted (it is listed).
A bare ``Fusion_Network_IJ`` state_dict is accepted too.

    python tools/model_converters/bdlfusion2mmfusion.py SRC DST \
        [--fusion-prefix fusion_net.] [--disc-prefix discriminator.]
"""
import argparse
from collections import OrderedDict

import mmfusion  # noqa: F401  (compatibility patches)
from mmfusion.models import DRDBFusionNet, PixelDiscriminator
from mmfusion.models.utils.ckpt_convert import (bdlfusion_convert,
                                                bdlfusion_dropped_keys,
                                                check_loads, convert_to_model,
                                                load_source_checkpoint,
                                                save_mmfusion_checkpoint)


def parse_args():
    parser = argparse.ArgumentParser(
        description='Convert BDLFusion weights to mmfusion')
    parser.add_argument('src', help='BDLFusion checkpoint (state_dict)')
    parser.add_argument('dst', help='output mmfusion checkpoint')
    parser.add_argument('--fusion-prefix', default='fusion_net.')
    parser.add_argument('--disc-prefix', default='discriminator.')
    return parser.parse_args()


def main():
    args = parse_args()
    src = load_source_checkpoint(args.src)
    converted = bdlfusion_convert(src, source=args.src)
    check_loads(DRDBFusionNet(), converted['fusion_net'],
                'BDLFusion enhance_net')
    out = convert_to_model(converted['fusion_net'], args.fusion_prefix,
                           OrderedDict())
    if 'discriminator' in converted:
        check_loads(PixelDiscriminator(), converted['discriminator'],
                    'BDLFusion discriminator')
        convert_to_model(converted['discriminator'], args.disc_prefix, out)
    save_mmfusion_checkpoint(
        out,
        args.dst,
        meta=dict(converted_from=args.src, source='LiuZhu-CV/BDLFusion'))
    dropped = bdlfusion_dropped_keys(src)
    print(f'{args.src}: converted {", ".join(converted)} '
          f'({len(out)} tensors) to {args.dst}; not converted: '
          f'{len(dropped)} keys (FCOS detector denoise_net.*, GAN-loss '
          'buffers)')


if __name__ == '__main__':
    main()
