# Copyright (c) mmfusion contributors. All rights reserved.
"""Evaluate the fused images of one or several methods (VIFB-style).

Example::

    python tools/analysis_tools/eval_fused.py \\
        --fused SeAFusion=results/seafusion \\
        --fused ours=work_dirs/x/fused/test \\
        --ir data/MSRS/test/ir --vi data/MSRS/test/vi \\
        --out-dir work_dirs/eval_fused --with-sources

writes ``per_image.csv``, ``summary.csv``, ``summary.md`` (the mean table,
also printed) and ``plots/<metric>.png`` (SeAFusion-style cumulative
distributions) to ``--out-dir``.

An image that cannot be measured (a missing or unreadable fused image, one of
another size than its pair, an unreadable source image) does not stop the
run: every other image is measured, and each one left out is named with the
file and the reason in the report and at the end. Exit status: 0 every image
measured, 1 some were left out (0 with ``--skip-missing``), 2 nothing could
run (bad arguments or folders).

Speed: the images are read and measured in as many threads as torch uses
(``OMP_NUM_THREADS``, default: the cores); start-up is torch's import
(the tool imports neither mmengine nor mmcv; the progress bar, mmengine's,
does). ``--no-plots`` skips matplotlib (~0.6 s to import, ~0.1 s a plot) and
``--no-progress`` the bar; start-up and end-to-end times are in
docs/evaluation.md section 8.
"""
import argparse
import gc
import sys


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Fusion metrics of folders of fused images')
    parser.add_argument(
        '--fused',
        action='append',
        required=True,
        metavar='[NAME=]DIR',
        help='folder of fused images named like their sources (repeat to '
        'compare methods); NAME defaults to the folder name')
    parser.add_argument('--ir', required=True, help='infrared source folder')
    parser.add_argument(
        '--vi', '--vis', dest='vi', required=True, help='visible folder')
    parser.add_argument(
        '--out-dir', default='work_dirs/eval_fused', help='report folder')
    parser.add_argument(
        '--metrics', default='all', help="comma separated names or 'all'")
    parser.add_argument(
        '--with-sources',
        action='store_true',
        help='also evaluate the IR and VIS images themselves as "fused" '
        'images (single-modality baselines)')
    parser.add_argument(
        '--skip-missing',
        action='store_true',
        help='images that cannot be measured (a missing or unreadable fused '
        'image, one of another size than its pair, an unreadable source) '
        'are always left out, named at the end and listed in summary.md, '
        'and make the exit status 1; with --skip-missing it is 0 (the '
        'means are then over different image sets)')
    parser.add_argument(
        '--batch-size',
        type=int,
        default=8,
        help='images measured together on a GPU (on CPU every thread '
        'measures one pair at a time)')
    parser.add_argument('--device', default=None, help='e.g. cuda:0')
    parser.add_argument('--no-plots', action='store_true')
    parser.add_argument('--plot-format', default='png')
    parser.add_argument('--no-progress', action='store_true')
    conv = parser.add_argument_group(
        'metric convention (default: the de facto evaluator)')
    conv.add_argument('--mi-base', choices=['e', '2'])
    conv.add_argument('--sf-scale', choices=['255', 'unit'])
    conv.add_argument('--psnr-peak', help="'max' or a number such as 255")
    conv.add_argument('--vif-reduction', choices=['sum', 'mean'])
    conv.add_argument('--ssim-mode', choices=['pairwise', 'mef'])
    conv.add_argument('--ssim-reduction', choices=['sum', 'mean'])
    conv.add_argument('--ssim-data-range', type=float)
    conv.add_argument('--ssim-dtype', choices=['float32', 'float64'])
    conv.add_argument('--nabf-scale', choices=['unit', '255'])
    return parser.parse_args(argv)


def main(argv=None, process_gc: bool = False):
    """Run the tool; ``process_gc``: this process is the tool's own (the
    command line), tune its garbage collection (see below)."""
    args = parse_args(argv)
    # Imported after parsing: --help and a wrong command line need no torch.
    # Importing torch creates ~170,000 objects that Python's cyclic garbage
    # collector traverses again and again while importing, and once more at
    # exit, though none of them is garbage. In the tool's own process
    # collection is off while importing, and what exists after the imports
    # is frozen (gc.freeze: never traversed again); docs/evaluation.md
    # section 8 has the measured gain.
    if process_gc:
        gc.disable()
    from mmfusion.apis.folder_evaluation import (evaluate_fused_folders,
                                                 parse_named_folder,
                                                 write_fusion_report)
    from mmfusion.evaluation.functional import DEFAULT_OPTIONS
    if process_gc:
        gc.freeze()
        gc.enable()
    methods = {}
    for spec in args.fused:
        name, folder = parse_named_folder(spec)
        base, i = name, 2
        while name in methods:
            name, i = f'{base}_{i}', i + 1
        methods[name] = folder
    if args.with_sources:
        methods = {'IR': args.ir, 'VIS': args.vi, **methods}
    options = {}
    for key in DEFAULT_OPTIONS:
        value = getattr(args, key, None)
        if value is None:
            continue
        if key == 'mi_base' and value == '2':
            value = 2
        if key == 'psnr_peak' and value != 'max':
            value = float(value)
        options[key] = value
    try:
        evaluation = evaluate_fused_folders(
            methods,
            args.ir,
            args.vi,
            metrics=args.metrics,
            skip_missing=True,
            batch_size=args.batch_size,
            device=args.device,
            progress=not args.no_progress,
            warn=False,
            **options)
    except (ValueError, FileNotFoundError, KeyError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    report = write_fusion_report(
        evaluation,
        args.out_dir,
        plots=not args.no_plots,
        plot_format=args.plot_format)
    print(report)
    print(f'written to {args.out_dir}/')
    left_out = evaluation.left_out()
    if left_out:
        stream = sys.stdout if args.skip_missing else sys.stderr
        print(
            f'{"" if args.skip_missing else "error: "}{len(left_out)} '
            'image(s) could not be measured and were left out (the others '
            'were measured):',
            file=stream)
        for image, methods, reason in left_out:
            which = 'every method' if len(methods) == len(
                evaluation.methods) > 1 else ', '.join(methods)
            print(f'  {image} ({which}): {reason}', file=stream)
        return 0 if args.skip_missing else 1
    return 0


if __name__ == '__main__':
    code = main(process_gc=True)
    gc.freeze()  # nothing to collect at exit: skip the full pass over it
    sys.exit(code)
