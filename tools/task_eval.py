# Copyright (c) mmfusion contributors. All rights reserved.
"""Task-driven evaluation in one command.

For each input — the visible image, the infrared image, the fused images of
an mmfusion checkpoint, a folder of fused images from any other method — a
fresh task model is trained from the task config on that input's images of
the training split and tested on the test split; the task metrics are
reported side by side (``WORK_DIR/task_eval.{md,csv,json,png}``).

Examples::

    # an mmfusion checkpoint and an external method, against VIS and IR
    python tools/task_eval.py configs/task_eval/segformer_mit-b0_msrs.py \\
        --model TDFusion configs/tdfusion/segformer_msrs.py tdf.pth \\
        --fused SeAFusion=results/SeAFusion \\
        --work-dir work_dirs/task_eval_msrs

    # N GPUs: every task model trains on all of them
    bash tools/dist_task_eval.sh configs/task_eval/segformer_mit-b0_msrs.py \\
        8 --fused CDDFuse=results/CDDFuse

A folder of fused images holds one image per pair, named like the pair (any
image extension): flat, or with one sub-folder per split named like the
dataset's (``DIR/train``, ``DIR/test``), or mirroring the dataset layout
(``DIR/train/vi``). Every input is checked before the first training
(missing, unreadable or wrongly sized fused images are named). Finished
inputs are not trained again when the command is re-run with the same
work dir and configuration; an interrupted training resumes.
"""
import argparse
import os
import os.path as osp
import sys

from mmengine.config import Config, DictAction
from mmengine.dist import get_rank

import mmfusion  # noqa: F401
from mmfusion.apis.folder_evaluation import parse_named_folder
from mmfusion.apis.task_driven import (InputSource, TaskDrivenEvaluation,
                                       write_task_report)
from mmfusion.utils.dist import init_dist


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Task-driven evaluation: train a task model on the '
        'fused images of each method and on VIS-only / IR-only inputs')
    parser.add_argument('config', help='task config (configs/task_eval/)')
    parser.add_argument(
        '--model',
        nargs=3,
        action='append',
        default=[],
        metavar=('NAME', 'CONFIG', 'CHECKPOINT'),
        help='an mmfusion fusion model: its images are written to '
        'WORK_DIR/fused/NAME (repeatable)')
    parser.add_argument(
        '--fused',
        action='append',
        default=[],
        metavar='[NAME=]DIR',
        help='a folder of fused images of another method (repeatable); NAME '
        'defaults to the folder name')
    parser.add_argument(
        '--baselines',
        nargs='*',
        choices=['vis', 'ir'],
        default=['vis', 'ir'],
        help='single-modality baselines (default: vis ir; none: '
        '--baselines with no value)')
    parser.add_argument(
        '--work-dir', help='default: work_dirs/task_eval/'
        '<config name>')
    parser.add_argument(
        '--seed',
        type=int,
        default=0,
        help='seed of every task training (the same for all inputs)')
    parser.add_argument(
        '--seeds',
        type=int,
        nargs='+',
        help='several seeds: every input is trained once per seed and the '
        'report gives mean +- std over them (replaces --seed)')
    parser.add_argument(
        '--device', help='device of the fusion models (default: best)')
    parser.add_argument(
        '--fusion-batch-size',
        type=int,
        default=1,
        help='pairs per fusion forward (same-size pairs)')
    parser.add_argument(
        '--rerun',
        action='store_true',
        help='redo fused images and trainings even if finished results '
        'exist in the work dir')
    parser.add_argument(
        '--plot-metrics',
        nargs='+',
        help='metrics on the bar plot (default: mIoU / mAP)')
    parser.add_argument('--no-plot', action='store_true')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the task config, xxx=yyy')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main(argv=None):
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', 'task_eval',
        osp.splitext(osp.basename(args.config))[0])
    try:
        sources = [InputSource.baseline(m) for m in args.baselines]
        sources += [
            InputSource(name, 'fused', model_config=c, checkpoint=k)
            for name, c, k in args.model
        ]
        for spec in args.fused:
            name, folder = parse_named_folder(spec)
            sources.append(InputSource(name, 'fused', fused_dir=folder))
        if args.launcher != 'none':
            # (mmfusion's: gloo on CPU-only machines)
            init_dist(args.launcher,
                      **cfg.get('env_cfg', {}).get('dist_cfg', {}))
        evaluation = TaskDrivenEvaluation(
            cfg,
            sources,
            work_dir,
            seed=args.seed,
            seeds=args.seeds,
            launcher=args.launcher,
            device=args.device,
            fusion_batch_size=args.fusion_batch_size,
            rerun=args.rerun)
        evaluation.prepare()
    except (ValueError, FileNotFoundError, KeyError, TypeError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    result = evaluation.run(prepared=True)
    if get_rank() == 0:
        report = write_task_report(
            result,
            work_dir,
            plot_metrics=args.plot_metrics,
            plot=not args.no_plot)
        print(report)
        print(f'report written to {osp.join(work_dir, "task_eval.md")}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
