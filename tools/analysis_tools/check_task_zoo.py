# Copyright (c) mmfusion contributors. All rights reserved.
"""Zoo-wide check: can every mmseg segmentor / mmdet detector family be the
task of a fusion strategy, by config only?

For each family folder of the installed mmseg and mmdet config zoos, one
representative config is put into a shipped strategy config exactly as the
README's "swap the task" example does::

    model = dict(task=dict(_delete_=True, type='TaskAdapter',
                           cfg_path='mmdet::retinanet/retinanet_r50_fpn_1x_coco.py',
                           model=dict(bbox_head=dict(num_classes=3))))

then the strategy is built and takes one step of every phase (TDFusion:
meta, fusion; BDLFusion: upper, whose iteration also takes the lower step;
SeAFusion: a round's task phase, then the next round's fusion phase with the
semantic loss) and one prediction, on real MSRS pairs (``data/msrs_demo``).
Nothing is downloaded (``pretrained=False``). Families that cannot be a task
of image fusion are listed with the reason (text-prompted, video, tracking,
dataset-only folders).

CPU budget: by default the strategies' own networks are narrow variants
(``--fusion-nets shipped`` keeps them), the pairs fit 320x240
(``--pair-size``) and TDFusion's task view is its default 240x320
(``--task-input-size`` changes it). Families that need a larger input get it
(``MIN_INPUT``).

    python tools/analysis_tools/check_task_zoo.py --strategy tdfusion \\
        --families all --out work_dirs/zoo/tdfusion.json
    python tools/analysis_tools/check_task_zoo.py --strategy bdlfusion \\
        --families pspnet retinanet fcos
    python tools/analysis_tools/check_task_zoo.py \
        --combine work_dirs/zoo/*.json

The table (family, config, pass/fail, seconds, cause) is printed and written
as JSON; with ``--out`` an existing JSON is resumed (families already in it
are not run again).

The logic (family choice, config overrides, the check itself, the tables)
is :mod:`mmfusion.models.task_adapters.zoo`; this is its command line.
"""
import argparse
import json
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO)  # the checkout's mmfusion, installed or not

from mmfusion.models.task_adapters import zoo  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument(
        '--strategy', choices=sorted(zoo.STRATEGIES), default='tdfusion')
    parser.add_argument(
        '--families',
        nargs='+',
        default=['all'],
        help="'all', 'seg' (mmseg), 'det' (mmdet) or family folder names "
        "(e.g. 'pspnet retinanet'; 'mmdet:yolox' when both zoos have it)")
    parser.add_argument('--out', help='JSON to write (and resume from)')
    parser.add_argument(
        '--timeout', type=int, default=900, help='seconds per family')
    parser.add_argument(
        '--fusion-nets',
        choices=('narrow', 'shipped'),
        default='narrow',
        help="the strategy's networks: narrow variants (default, CPU "
        'budget) or as shipped')
    parser.add_argument(
        '--pair-size',
        type=int,
        nargs=2,
        default=(320, 240),
        metavar=('W', 'H'),
        help='the pairs are resized to fit W x H')
    parser.add_argument(
        '--task-input-size',
        type=int,
        nargs=2,
        metavar=('H', 'W'),
        help="TDFusion's task view (default: the config's, 240 x 320)")
    parser.add_argument(
        '--rerun-failed',
        action='store_true',
        help='with --out: run the failed families again')
    parser.add_argument(
        '--combine',
        nargs='+',
        metavar='JSON',
        help="print one markdown table of several strategies' JSONs")
    parser.add_argument(
        '--list',
        action='store_true',
        help='list the families and their configs only')
    return parser.parse_args()


def main():
    args = parse_args()
    if args.combine:
        print(zoo.combined_table(args.combine))
        return
    try:
        selected = zoo.select(args.families)
    except ValueError as e:
        raise SystemExit(str(e))
    if args.list:
        for package, family, config, skip in selected:
            print(f'{package:6} {family:28} {config or "skip: " + skip}')
        return
    done, kept = {}, []
    if args.out and osp.isfile(args.out):
        with open(args.out) as f:
            kept = json.load(f)['rows']  # all of them stay in the file
        done = {
            (r['package'], r['family']): r
            for r in kept if not (args.rerun_failed and r['status'] == 'fail')
        }
    rows = []
    for package, family, config, skip in selected:
        if (package, family) in done:
            rows.append(done[(package, family)])
            continue
        if skip:
            row = dict(
                family=family,
                package=package,
                config=None,
                status='skip',
                cause=skip)
        else:
            row = zoo.check(args.strategy, package, family, config,
                            args.timeout, args.fusion_nets, args.pair_size,
                            args.task_input_size)
            print(
                f"{package} {family} {config}: {row['status']} "
                f"{row['seconds']} s {row.get('cause', '')}",
                flush=True)
        rows.append(row)
        if args.out:
            zoo.write_results(args.out, args.strategy,
                              zoo.merge_rows(rows, kept), _settings(args))
    print(zoo.results_table(rows))
    counts = {
        s: sum(r['status'] == s for r in rows)
        for s in ('pass', 'fail', 'skip')
    }
    print(f'{args.strategy}: {counts}')
    if args.out:
        zoo.write_results(args.out, args.strategy, zoo.merge_rows(rows, kept),
                          _settings(args))


def _settings(args) -> dict:
    return dict(
        fusion_nets=args.fusion_nets,
        pair_size=list(args.pair_size),
        task_input_size=args.task_input_size)


if __name__ == '__main__':
    main()
