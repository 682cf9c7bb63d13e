# Copyright (c) mmfusion contributors. All rights reserved.
"""The task-gain experiment in one command: train each fusion method with
mmfusion's strategies on the train split, then train a fresh task model on
every input (VIS, IR, a fixed rule, released weights, each trained method)
for several seeds, and report mean +- std with the fusion metrics, a bar plot
and a picture grid.

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

Every stage is skipped when its result exists and was made by the same
configuration, and an interrupted training resumes: re-running the command
continues where it stopped. See docs/benchmarks.md.
"""
import argparse
import os
import sys

os.environ.setdefault('PYTHONWARNINGS', 'ignore')

from mmengine.config import Config, DictAction  # noqa: E402

import mmfusion  # noqa: F401,E402  (compatibility patches)
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
        help='seeds of the task trainings (default: the '
        'config\'s, 3)')
    parser.add_argument('--device', help='device of fusion inference')
    parser.add_argument(
        '--stages',
        nargs='+',
        choices=STAGES,
        help='run only these stages (default: all)')
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
            stages=args.stages)
    except (ValueError, KeyError, FileNotFoundError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    report = experiment.run()
    if report:
        print(report)
    return 0


if __name__ == '__main__':
    sys.exit(main())
