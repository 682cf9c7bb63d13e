# Copyright (c) mmfusion contributors. All rights reserved.
"""Median height in pixels of the labelled persons and cars of an
MSRS-layout dataset at one or more resolutions (are the classes resolvable
at the resolution an experiment downscales to?).

Example::

    python tools/analysis_tools/label_sizes.py ../shared/testdata/msrs_mini \\
        --sizes 160x120 320x240 640x480
"""
import argparse

from mmfusion.datasets.label_sizes import label_height_summary


def _size(text: str):
    if text.lower() in ('native', 'none'):
        return None
    try:
        w, h = (int(v) for v in text.lower().split('x'))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'size {text!r} is not WxH (e.g. 320x240) or "native"') from None
    return w, h


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Heights of the labelled objects at given resolutions')
    parser.add_argument('data_root', help='dataset in the MSRS layout')
    parser.add_argument(
        '--sizes',
        nargs='+',
        type=_size,
        default=[(160, 120), (320, 240), (640, 480)],
        help='WxH resolutions (the images resized to them), or "native"')
    parser.add_argument(
        '--classes', nargs='+', default=['person', 'car'], help='classes')
    parser.add_argument(
        '--splits', nargs='+', default=['train', 'test'], help='splits')
    parser.add_argument(
        '--source',
        default='auto',
        choices=['auto', 'boxes', 'masks'],
        help='YOLO boxes, connected components of the masks, or boxes '
        'where present (auto)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    rows = label_height_summary(args.data_root, args.sizes, args.classes,
                                args.splits, args.source)
    print(f'{"size":>9}  {"class":<7} {"n":>5} {"median":>7} {"p25":>6} '
          f'{"p75":>6} {"<8px":>5} {"med.w":>6}')
    for r in rows:
        size = 'native' if r['size'] is None else '{}x{}'.format(*r['size'])
        print(f'{size:>9}  {r["cls"]:<7} {r["n"]:>5} {r["median"]:>7.1f} '
              f'{r["p25"]:>6.1f} {r["p75"]:>6.1f} '
              f'{100 * r["frac_below_8"]:>4.0f}% {r["median_width"]:>6.1f}')
    return rows


if __name__ == '__main__':
    main()
