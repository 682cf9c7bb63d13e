# Copyright (c) mmfusion contributors. All rights reserved.
"""Loss/metric curves and training time from mmengine's json logs.

mmengine writes one json object per logged iteration (and per validation) to
``WORK_DIR/<timestamp>/vis_data/<timestamp>.json``::

    {"fusion_net.lr": 0.001, "meta.loss": 2.18, "task.loss": 2.19, ...,
     "time": 4.4, "data_time": 0.01, "iter": 25, "step": 25}     # train
    {"fusion/VIF": 0.72, "mIoU": 25.7, "time": 0.15, "step": 955}  # val

Train entries carry ``iter``; validation entries do not. The phased
strategies prefix every logged value with the step that produced it
(TDFusion: ``meta_inner.*``, ``meta.*`` and ``task.*`` in its meta phase,
``fusion.*`` and ``task.*`` in its fusion phase; BDLFusion: ``disc.*`` and
``task.*`` (lower level), ``upper.*`` (the leader's hypergradient step);
SeAFusion: ``fusion.*`` and ``task.*``), so ``plot_curve`` draws one plot per
prefix: each phase's losses on their own axes, whatever their scales. An
entry that carries a ``phase`` field is grouped by it instead.

A key that no iteration of a logging interval updated (its phase did not run
then) is written again with its previous value; such exact repeats are
dropped from the curves (``--keep-repeats`` keeps them), so a phase's curve
has points only where the phase ran.

Examples::

    # every loss of a run, one plot per phase prefix
    python tools/analysis_tools/analyze_logs.py plot_curve \
        work_dirs/demo/20261127_103334/vis_data/20261127_103334.json \
        --out losses.png
    # chosen keys (validation metrics too), two runs compared
    python tools/analysis_tools/analyze_logs.py plot_curve A.json B.json \
        --keys fusion.loss mIoU --legend run_a run_b --out cmp.png
    # a work dir: its latest run's json log
    python tools/analysis_tools/analyze_logs.py cal_train_time work_dirs/demo
"""
import argparse
import glob
import json
import os.path as osp
from collections import OrderedDict

import numpy as np

# fields every entry has that are not curves
META_KEYS = ('iter', 'step', 'epoch', 'phase')
VAL_GROUP = 'val'


def find_json_log(path):
    """The json log of ``path``: the file itself, or the newest
    ``<timestamp>/vis_data/<timestamp>.json`` under a work dir (or under one
    run's timestamp dir)."""
    if osp.isfile(path):
        return path
    if not osp.isdir(path):
        raise FileNotFoundError(f'{path}: no such json log or work dir')
    found = []
    for pattern in ('vis_data/*.json', '*/vis_data/*.json'):
        for f in glob.glob(osp.join(path, pattern)):
            stem = osp.splitext(osp.basename(f))[0]
            # the run's own log is named after its timestamp directory;
            # scalars.json (the visualizer's backend) has the same content
            if stem == osp.basename(osp.dirname(osp.dirname(f))):
                found.append(f)
    if not found:
        raise FileNotFoundError(
            f'{path}: no <timestamp>/vis_data/<timestamp>.json in it')
    return sorted(found)[-1]


def load_json_log(path):
    """Read one json log into ``dict(train=[...], val=[...])``, each a list
    of entries (dicts) in the order they were written. Lines that are not
    json objects (an interrupted write) are skipped."""
    log = dict(train=[], val=[])
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if not isinstance(entry, dict) or 'step' not in entry:
                continue
            log['train' if 'iter' in entry else 'val'].append(entry)
    return log


def load_json_logs(paths):
    return [load_json_log(find_json_log(p)) for p in paths]


def is_loss_key(key):
    """``meta.loss``, ``task.decode.loss_ce``, ``task.loss_task``, ..."""
    return 'loss' in key.split('.')[-1]


def key_group(entry, key, mode):
    """The plot a key's curve goes on: ``val`` for validation metrics, the
    entry's ``phase`` where it carries one, else the key's prefix."""
    if mode == 'val':
        return VAL_GROUP
    if 'phase' in entry:
        return str(entry['phase'])
    return key.split('.')[0] if '.' in key else key


def collect_curves(log, keys=None, keep_repeats=False):
    """``OrderedDict(group -> OrderedDict(key -> (steps, values)))`` of one
    log: the given keys (train or val, wherever they occur) or, without
    keys, every train loss. A train value equal to the key's previous one
    (not updated in that interval) is dropped unless ``keep_repeats``."""
    curves = OrderedDict()
    for mode in ('train', 'val'):
        for entry in log[mode]:
            for key, value in entry.items():
                if key in META_KEYS or not isinstance(value, (int, float)):
                    continue
                if keys is None:
                    if mode != 'train' or not is_loss_key(key):
                        continue
                elif key not in keys:
                    continue
                group = curves.setdefault(
                    key_group(entry, key, mode), OrderedDict())
                steps, values = group.setdefault(key, ([], []))
                if (mode == 'train' and not keep_repeats and values
                        and values[-1] == float(value)):
                    continue
                steps.append(entry['step'])
                values.append(float(value))
    if keys is not None:
        found = {k for group in curves.values() for k in group}
        missing = [k for k in keys if k not in found]
        if missing:
            raise KeyError(f'keys {missing} are in no entry of the log')
    return curves


def plot_curve(log_dicts, args):
    """One figure with one plot per group (phase prefix; ``val`` for
    validation metrics) holding the curves of every log; returns it, and
    saves it to ``args.out`` or shows it."""
    import matplotlib
    if args.backend is not None:
        matplotlib.use(args.backend)
    elif args.out is not None:
        matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    if args.style is not None:
        plt.style.use(args.style)

    legend = args.legend
    if legend is None:
        legend = [osp.basename(p) for p in args.json_logs]
    if len(legend) != len(log_dicts):
        raise ValueError(f'{len(legend)} legends for {len(log_dicts)} logs')

    per_log = [
        collect_curves(log, args.keys, args.keep_repeats) for log in log_dicts
    ]
    groups = []
    for curves in per_log:
        groups += [g for g in curves if g not in groups]
    if not groups:
        raise ValueError('nothing to plot: the logs have no loss key '
                         '(name the keys with --keys)')

    fig, axes = plt.subplots(
        len(groups), 1, figsize=(8, 3 * len(groups)), squeeze=False)
    for ax, group in zip(axes[:, 0], groups):
        for name, curves in zip(legend, per_log):
            for key, (steps, values) in curves.get(group, {}).items():
                label = key if len(per_log) == 1 else f'{name}: {key}'
                ax.plot(
                    steps,
                    values,
                    label=label,
                    linewidth=0.8,
                    marker='o' if len(steps) < 20 else None,
                    markersize=3)
        ax.set_title(f'{args.title}: {group}' if args.title else group)
        ax.set_xlabel('iter')
        ax.legend(fontsize='small')
    fig.tight_layout()
    if args.out is None:
        plt.show()
    else:
        print(f'save curve to: {args.out}')
        fig.savefig(args.out)
        plt.close(fig)
    return fig


def cal_train_time(log_dicts, args):
    """Per log: the mean, fastest and slowest logged iteration time (each
    entry's ``time`` is the mean over its logging window) and their spread;
    the first entry (start-up, compilation, caches) is left out unless
    ``--include-outliers``."""
    results = []
    for path, log in zip(args.json_logs, log_dicts):
        entries = [e for e in log['train'] if 'time' in e]
        if not args.include_outliers:
            entries = entries[1:]
        print('-----Analyze train time of {}-----'.format(path))
        if not entries:
            print('no train entries with a time')
            results.append(None)
            continue
        times = np.array([e['time'] for e in entries])
        slowest, fastest = int(times.argmax()), int(times.argmin())
        result = dict(
            mean=float(times.mean()),
            std=float(times.std()),
            slowest=(entries[slowest]['step'], float(times[slowest])),
            fastest=(entries[fastest]['step'], float(times[fastest])),
            last_step=int(log['train'][-1]['step']))
        print(f'slowest logged interval ends at iter {result["slowest"][0]},'
              f' average time is {result["slowest"][1]:.4f} s/iter')
        print(f'fastest logged interval ends at iter {result["fastest"][0]},'
              f' average time is {result["fastest"][1]:.4f} s/iter')
        print(f'time std over logged intervals is {result["std"]:.4f}')
        print(f'average iter time: {result["mean"]:.4f} s/iter '
              f'({result["last_step"]} iters: about '
              f'{result["mean"] * result["last_step"] / 3600:.2f} h)')
        results.append(result)
    return results


def add_plot_parser(subparsers):
    parser_plt = subparsers.add_parser(
        'plot_curve', help='parser for plotting curves')
    parser_plt.add_argument(
        'json_logs',
        type=str,
        nargs='+',
        help='json logs (or work dirs: their latest run\'s log)')
    parser_plt.add_argument(
        '--keys',
        type=str,
        nargs='+',
        default=None,
        help='the keys to plot (train losses, lrs, validation metrics); '
        'default: every train loss, one plot per phase prefix')
    parser_plt.add_argument('--title', type=str, help='title of figure')
    parser_plt.add_argument(
        '--legend',
        type=str,
        nargs='+',
        default=None,
        help='a name per json log')
    parser_plt.add_argument(
        '--backend', type=str, default=None, help='matplotlib backend')
    parser_plt.add_argument(
        '--style', type=str, default=None, help='matplotlib style')
    parser_plt.add_argument(
        '--keep-repeats',
        action='store_true',
        help='keep values repeated from the previous interval (the key was '
        'not updated: its phase did not run)')
    parser_plt.add_argument('--out', type=str, default=None)


def add_time_parser(subparsers):
    parser_time = subparsers.add_parser(
        'cal_train_time',
        help='parser for computing the average time per training iteration')
    parser_time.add_argument(
        'json_logs',
        type=str,
        nargs='+',
        help='json logs (or work dirs: their latest run\'s log)')
    parser_time.add_argument(
        '--include-outliers',
        action='store_true',
        help='include the first logged interval (start-up) in the '
        'statistics')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Analyze Json Log')
    subparsers = parser.add_subparsers(dest='task', help='task parser')
    subparsers.required = True
    add_plot_parser(subparsers)
    add_time_parser(subparsers)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    args.json_logs = [find_json_log(p) for p in args.json_logs]
    log_dicts = load_json_logs(args.json_logs)
    tasks = dict(plot_curve=plot_curve, cal_train_time=cal_train_time)
    return tasks[args.task](log_dicts, args)


if __name__ == '__main__':
    main()
