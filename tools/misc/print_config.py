# Copyright (c) mmfusion contributors. All rights reserved.
"""Print a config after inheritance and overrides.

    python tools/misc/print_config.py configs/tdfusion/deeplab_msrs.py
    python tools/misc/print_config.py configs/seafusion/seafusion_msrs.py \
        --cfg-options train_dataloader.batch_size=4 --save-path /tmp/cfg.py
"""
import argparse
import os.path as osp

from mmengine.config import Config, DictAction


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Print the whole config')
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--save-path',
        default=None,
        help='also write the resolved config to this file (.py, .json or '
        '.yml/.yaml)')
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
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    print(f'Config:\n{cfg.pretty_text}')
    if args.save_path is not None:
        suffix = osp.splitext(args.save_path)[1]
        if suffix not in ('.py', '.json', '.yml', '.yaml'):
            raise ValueError(f'--save-path: {suffix!r} is not one of .py, '
                             '.json, .yml, .yaml')
        cfg.dump(args.save_path)
        print(f'Config saving at {args.save_path}')
    return cfg


if __name__ == '__main__':
    main()
