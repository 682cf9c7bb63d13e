# Copyright (c) mmfusion contributors. All rights reserved.
"""Fuse infrared/visible pairs with a trained model.

Examples::

    # a folder of pairs (matched by file name)
    python tools/fuse.py configs/seafusion/seafusion_msrs.py ckpt.pth \\
        --ir data/MSRS/test/ir --vi data/MSRS/test/vi --out work_dirs/fused

    # one pair, gray output, min-max normalised, plus 16-bit raw output
    python tools/fuse.py CONFIG ckpt.pth --ir a_ir.png --vi a_vi.png \\
        --out out --colour gray --norm minmax --raw png16

The model's own test pipeline and data preprocessor are used (inference =
validation); see :class:`mmfusion.apis.FusionInferencer` for the Python API.
Pairs are read by a reader thread, fused, and written by a writer thread as
they come (memory flat in the folder size); each image is written under a
temporary name and renamed when whole, and a second run skips the pairs
already written (``--overwrite`` redoes them).

A pair that cannot be read (a missing, truncated or damaged file, IR and VIS
of different sizes) does not stop the run: every other pair is fused, and
each such pair is named with the file and the reason at the end. Exit
status: 0 all pairs fused (or already there), 1 some pairs could not be
read, 2 nothing could run (bad arguments, config, checkpoint, folders).
"""
import argparse
import sys

import mmfusion  # noqa: F401  (compatibility patches)
from mmfusion.apis import FusionInferencer
from mmfusion.apis.inference_backends import (BACKENDS, PRECISIONS, backend_of,
                                              missing_onnx_packages)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Fuse IR/VIS pairs with a trained fusion model')
    parser.add_argument('config', help='model config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--ir', required=True, help='infrared image file or folder')
    parser.add_argument(
        '--vi',
        '--vis',
        dest='vi',
        required=True,
        help='visible image file or folder (pairs matched by file name)')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--device', default=None, help='cpu, cuda:0 ...')
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument(
        '--backend',
        choices=BACKENDS,
        default='auto',
        help="how the fusion net runs: 'pytorch' (exactly as tools/test.py, "
        "compiled where the config says so), 'onnxruntime' (exported to "
        'ONNX once and cached; installed by tools/install.sh, '
        "requirements/inference.txt), or 'auto' (default): ONNX Runtime for "
        'fp32 where it runs on the device, else PyTorch')
    parser.add_argument(
        '--precision',
        choices=PRECISIONS,
        default='fp32',
        help='bf16/fp16: the pytorch backend under autocast (fastest on '
        'CPUs with AMX and on GPUs; the fused Y moves by under one grey '
        'level, a per-image min-max stretch can make it ~3)')
    parser.add_argument(
        '--workers',
        type=int,
        help='reader threads (default: 1 when there is more than one pair)')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='fuse every pair again (default: pairs whose outputs are '
        'already in --out are skipped, so an interrupted run resumes)')
    parser.add_argument(
        '--colour',
        '--color',
        dest='colour',
        choices=['vis', 'saturation', 'gray', 'vis_opencv'],
        help="colour policy (default: the model's): 'vis' keeps the VIS "
        "chroma, 'saturation' TDFusion's saturation-weighted chroma, 'gray' "
        "writes 1-channel images, 'vis_opencv' the VIS chroma through "
        "OpenCV's uint8 YCrCb2BGR (TarDAL's script)")
    parser.add_argument(
        '--norm',
        choices=['clip', 'minmax'],
        help="output normalisation (default: the model's): 'clip' to [0, 1] "
        "or per-image 'minmax' (the official SeAFusion/TDFusion scripts)")
    parser.add_argument(
        '--rounding',
        choices=['round', 'floor'],
        default='round',
        help="8-bit quantisation ('floor' = astype(uint8) of the official "
        'scripts)')
    parser.add_argument(
        '--raw',
        choices=['npy', 'png16'],
        help='also write the unquantised result to OUT/raw/ as float32 .npy '
        'or 16-bit PNG')
    parser.add_argument(
        '--raw-channels',
        choices=['rgb', 'y'],
        default='rgb',
        help="raw output of the colour image or of the fused luminance")
    parser.add_argument(
        '--vis-dir', help='also write VIS | IR | fused grids there')
    parser.add_argument(
        '--no-progress', action='store_true', help='no progress bar')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        fuser = FusionInferencer(
            args.config,
            args.checkpoint,
            device=args.device,
            colour=args.colour,
            output_norm=args.norm,
            show_progress=not args.no_progress,
            backend=args.backend,
            precision=args.precision)
        fused = skipped = 0
        failed = []
        for entry in fuser.stream(
                args.ir,
                args.vi,
                batch_size=args.batch_size,
                out_dir=args.out,
                rounding=args.rounding,
                raw=args.raw,
                raw_channels=args.raw_channels,
                vis_out_dir=args.vis_dir,
                return_images=False,
                skip_existing=not args.overwrite,
                num_workers=args.workers,
                on_error='skip'):
            if 'error' in entry:
                failed.append(entry)
            elif entry.get('skipped'):
                skipped += 1
            else:
                fused += 1
    except (ValueError, FileNotFoundError, TypeError, ImportError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    extra = f' ({skipped} already there, skipped; --overwrite redoes ' \
        'them)' if skipped else ''
    used = backend_of(fuser.model.fusion_net)
    print(f'fused {fused} pair(s) into {args.out}{extra}; backend: {used}, '
          f'{args.precision}')
    missing = missing_onnx_packages()
    if args.backend == 'auto' and used == 'pytorch' and missing and \
            args.precision == 'fp32':
        print(
            f'note: {", ".join(missing)} not installed, so the default '
            "backend ('auto') ran the slower PyTorch path; `bash "
            'tools/install.sh` (or `pip install -r '
            'requirements/inference.txt`) installs ONNX Runtime',
            file=sys.stderr)
    if failed:
        print(
            f'error: {len(failed)} pair(s) could not be read and were not '
            'fused (the others were; fix or remove these and run again to '
            'fuse them):',
            file=sys.stderr)
        for entry in failed:
            print(f'  {entry["img_id"]}: {entry["error"]}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
