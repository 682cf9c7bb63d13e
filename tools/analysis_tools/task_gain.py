# Copyright (c) mmfusion contributors. All rights reserved.
"""The task-gain experiment in one command: train each fusion method and its
task-free twin with mmfusion's strategies on the train split under every
fusion seed, then train a fresh task model on every input (VIS, IR, a fixed
rule, released weights, each trained net) for several seeds, and report
mean +- std, the paired differences method - twin with their 95 % CI and
verdict, the fusion metrics, a bar plot and a picture grid. The library is
mmfusion.apis.task_gain; this is its command line.

Examples::

    # CPU scale (msrs_mini from ../shared at 160x120, 3 seeds,
    # < 2 h on 2 cores)
    python tools/analysis_tools/task_gain.py \\
        configs/task_gain/task_gain_msrs_mini_cpu.py

    # the whole pipeline in a few minutes on the 12 bundled demo pairs
    python tools/analysis_tools/task_gain.py \\
        configs/task_gain/task_gain_msrs_mini_cpu.py --quick

    # published scale on GPUs (full MSRS at data/MSRS)
    python tools/analysis_tools/task_gain.py \\
        configs/task_gain/task_gain_msrs_gpu.py

    # only some parts: the trainings of TDFusion (and its twin), then the rest
    python tools/analysis_tools/task_gain.py \\
        configs/task_gain/task_gain_msrs_mini_cpu.py --stages train:TDFusion

Every unit of work is skipped when its result exists and was made by the
same configuration, and an interrupted training resumes: re-running the
command continues where it stopped. With ``--state-dir DIR`` the finished
units are also kept in DIR, small enough to commit, and taken back from it:
the experiment goes on in a new checkout at the same path (results/). A
progress line after each unit gives the elapsed time and an estimate of
what is left. See docs/benchmarks.md.
"""
import argparse
import os
import sys

os.environ.setdefault('PYTHONWARNINGS', 'ignore')

from mmengine.config import Config, DictAction  # noqa: E402

from mmfusion.apis.task_gain import STAGES, TaskGainExperiment  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Task-gain experiment: does task-driven fusion training '
        'beat VIS-only, IR-only and a fixed rule on the downstream task?')
    parser.add_argument(
        'config',
        help='experiment config '
        '(configs/task_gain/task_gain_*.py)')
    parser.add_argument('--work-dir', help='default: the config\'s work_dir')
    parser.add_argument(
        '--quick',
        action='store_true',
        help='the config\'s `quick` settings: the whole pipeline in a few '
        'minutes on the bundled demo pairs (the numbers mean nothing)')
    parser.add_argument(
        '--seeds',
        type=int,
        nargs='+',
        help='seeds of the task trainings of the protocol (default: the '
        'config\'s `seeds`)')
    parser.add_argument(
        '--fusion-seeds',
        type=int,
        nargs='+',
        help='seeds of the fusion trainings, methods and twins paired by '
        'seed (default: the config\'s `fusion_seeds`)')
    parser.add_argument('--device', help='device of fusion inference')
    parser.add_argument(
        '--stages',
        nargs='+',
        metavar='STAGE[:METHOD]',
        help=f'run only these stages, of {", ".join(STAGES)} (eval = '
        'task_eval); train:NAME or task_eval:NAME for one method and its '
        'twin (default: all)')
    parser.add_argument(
        '--state-dir',
        help='also keep every finished unit there, small enough to commit '
        '(weights only, no fused images), and take back the units the work '
        'dir lacks before starting: how an experiment longer than one '
        'machine\'s lifetime goes on on the next (restore into the same '
        'work dir path)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the experiment config, xxx=yyy')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    try:
        experiment = TaskGainExperiment(
            cfg,
            work_dir=args.work_dir,
            quick=args.quick,
            seeds=args.seeds,
            device=args.device,
            stages=args.stages,
            fusion_seeds=args.fusion_seeds,
            state_dir=args.state_dir)
    except (ValueError, KeyError, FileNotFoundError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    try:
        report = experiment.run()
    except FileNotFoundError as e:  # e.g. --stages report before training
        print(f'error: {e}', file=sys.stderr)
        return 2
    if report:
        print(report)
    return 0


if __name__ == '__main__':
    sys.exit(main())
