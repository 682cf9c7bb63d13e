# Copyright (c) mmfusion contributors. All rights reserved.
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction

import mmfusion  # noqa: F401
from mmfusion.engine.runner import build_runner


def parse_args():
    parser = argparse.ArgumentParser(
        description='Test (and evaluate) a fusion model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir',
        help='the directory to save the file containing evaluation metrics '
        'and the fused images')
    parser.add_argument(
        '--out-dir',
        help='folder (under the work dir unless absolute) for the fused '
        'images; default `fused/test`')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file.')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
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

    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])

    if args.out_dir is not None:
        for hook in cfg.get('custom_hooks', []):
            if hook.get('type') == 'FusedImageSaveHook':
                hook['out_dir'] = args.out_dir
    cfg.load_from = args.checkpoint

    # the config's runner_type (mmfusion's configs: FusionRunner), else
    # FusionRunner: atomic checkpoints, damaged ones named, CPU distributed
    runner = build_runner(cfg)
    runner.test()


if __name__ == '__main__':
    main()
