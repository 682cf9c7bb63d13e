# Copyright (c) mmfusion contributors. All rights reserved.
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction

import mmfusion  # noqa: F401
from mmfusion.engine.optimizers import enable_amp
from mmfusion.engine.runner import build_runner


def parse_args():
    parser = argparse.ArgumentParser(description='Train a fusion model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='If specify checkpoint path, resume from it, while if not '
        'specify, try to auto resume from the latest checkpoint '
        'in the work directory.')
    parser.add_argument(
        '--amp',
        action='store_true',
        default=False,
        help='enable automatic-mixed-precision training (in every '
        "sub-network's optimiser wrapper; bfloat16 autocast on a machine "
        'without a GPU)')
    parser.add_argument(
        '--amp-dtype',
        choices=['float16', 'bfloat16'],
        default=None,
        help='autocast dtype of --amp: float16 (default on GPUs) or '
        'bfloat16 (the only one on a CPU)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file. If the value to '
        'be overwritten is a list, it should be like key="[a,b]" or key=a,b '
        'It also allows nested list/tuple values, e.g. key="[(a,b),(c,d)]" '
        'Note that the quotation marks are necessary and that no white space '
        'is allowed.')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # When using PyTorch version >= 2.0.0, the `torch.distributed.launch`
    # will pass the `--local-rank` parameter to `tools/train.py` instead
    # of `--local_rank`.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main():
    args = parse_args()

    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)

    # work_dir priority: CLI > config > ./work_dirs/<config name>
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])

    if args.amp is True:
        # AMP in every sub-network's wrapper of the task-driven algorithms;
        # bfloat16 autocast on a CPU-only machine (see docs/training.md)
        cfg.optim_wrapper = enable_amp(cfg.optim_wrapper, args.amp_dtype)

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume

    # the config's runner_type (mmfusion's configs: FusionRunner), else
    # FusionRunner: atomic checkpoints, damaged ones named, CPU distributed
    runner = build_runner(cfg)
    runner.train()


if __name__ == '__main__':
    main()
