# Copyright (c) mmfusion contributors. All rights reserved.
"""Fusing a folder end to end: ``tools/fuse.py`` against a plain loop.

    python tools/analysis_tools/benchmark_fuse.py \\
        --ir ../shared/testdata/msrs_mini/test/ir \\
        --vi ../shared/testdata/msrs_mini/test/vi \\
        [--checkpoint seafusion_official.pth] [--threads 1 2] [--repeats 2] \\
        [--contenders plain pytorch onnxruntime bf16] [--out FILE] \\
        [--device cuda --contenders plain pytorch fp16]

Each contender is a fresh process timed from start to exit (start-up, model
building, reading, fusing, writing), on the same pairs, with the same
SeAFusion network and weights:

``plain``
    what a research script does, one pair after the other: OpenCV read, RGB
    -> YCbCr, eager forward, colour back, min-max, ``astype(uint8)``, write
    (the released SeAFusion test script's steps, on mmfusion's
    ``SeAFusionNet`` with the same weights);
``pytorch`` / ``onnxruntime`` / ``bf16`` / ``fp16``
    ``tools/fuse.py configs/seafusion/seafusion_msrs.py`` with
    ``--backend pytorch`` (the config's compiled fp32 path),
    ``--backend onnxruntime``, ``--precision bf16`` or ``--precision fp16``.

``--device cuda`` runs every contender's network on the GPU (the plain loop
moves each pair there and back, as a research script does) and the table
also gives pairs per second; ``--threads`` is then the CPU threads of the
reading, colour and writing around it.

Runs are interleaved (every contender once per repeat, in turn) so that load
on a shared machine spreads over all of them; the table gives the median
seconds, seconds per pair, the speed-up over ``plain`` at the same thread
count, the peak RSS of the process, and the largest difference of the
written images from ``plain``'s (grey levels). The first run of the compiled
path fills PyTorch's compile cache (on disk); later runs, as a user's, reuse
it — the untimed warm-up run does that.
"""
import argparse
import json
import os
import os.path as osp
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'seafusion', 'seafusion_msrs.py')
CONTENDERS = ('plain', 'pytorch', 'onnxruntime', 'bf16', 'fp16')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--ir', default=osp.join(REPO, 'data', 'msrs_demo', 'test', 'ir'))
    parser.add_argument(
        '--vi', default=osp.join(REPO, 'data', 'msrs_demo', 'test', 'vi'))
    parser.add_argument(
        '--checkpoint',
        help='mmfusion SeAFusion checkpoint (default: random weights; the '
        'speed does not depend on them)')
    parser.add_argument('--threads', type=int, nargs='+', default=[1, 2])
    parser.add_argument('--repeats', type=int, default=2)
    parser.add_argument(
        '--contenders',
        nargs='+',
        default=list(CONTENDERS),
        choices=CONTENDERS)
    parser.add_argument(
        '--device',
        default='cpu',
        help="where the networks run: 'cpu' "
        "(default) or 'cuda' / 'cuda:N'")
    parser.add_argument('--work-dir', help='outputs (default: a temp dir)')
    parser.add_argument('--out', help='also write the results as JSON')
    # internal: run the plain loop in this process
    parser.add_argument(
        '--plain-loop',
        nargs=2,
        metavar=('CKPT', 'OUT'),
        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.device != 'cpu' and 'onnxruntime' in args.contenders \
            and not args.plain_loop:
        parser.error('--device cuda: leave out the onnxruntime contender '
                     "(fuse.py's ONNX Runtime backend runs on the CPU)")
    return args


# ------------------------------------------------------------ plain loop
def plain_loop(ir_dir: str,
               vi_dir: str,
               ckpt: str,
               out_dir: str,
               device: str = 'cpu') -> None:
    """The research-script baseline (imports only torch, numpy, OpenCV)."""
    import cv2
    import numpy as np
    import torch

    sys.path.insert(0, REPO)
    from mmfusion.models.fusion_nets.seafusion_net import SeAFusionNet
    net = SeAFusionNet()
    state = torch.load(ckpt, map_location='cpu', weights_only=True)
    state = state.get('state_dict', state)
    net.load_state_dict({
        k[len('fusion_net.'):]: v
        for k, v in state.items() if k.startswith('fusion_net.')
    })
    net.eval().to(device)
    os.makedirs(out_dir, exist_ok=True)
    names = sorted(set(os.listdir(ir_dir)) & set(os.listdir(vi_dir)))
    with torch.no_grad():
        for name in names:
            ir = cv2.imread(osp.join(ir_dir, name), cv2.IMREAD_GRAYSCALE)
            vis = cv2.imread(osp.join(vi_dir, name))[..., ::-1] / 255.0
            r, g, b = vis[..., 0], vis[..., 1], vis[..., 2]
            y = .299 * r + .587 * g + .114 * b
            cr = np.clip((r - y) * .713 + .5, 0, 1)
            cb = np.clip((b - y) * .564 + .5, 0, 1)
            t = lambda a: torch.from_numpy(  # noqa: E731
                np.ascontiguousarray(a, np.float32))[None, None].to(device)
            fy = net._forward(t(ir / 255.0), t(np.clip(y, 0, 1)))
            fy = fy[0, 0].cpu().numpy()
            rgb = np.stack([
                fy + 1.403 * (cr - .5), fy - .714 * (cr - .5) - .344 *
                (cb - .5), fy + 1.773 * (cb - .5)
            ], -1).clip(0, 1)
            rgb = (rgb - rgb.min()) / (rgb.max() - rgb.min())
            cv2.imwrite(
                osp.join(out_dir,
                         osp.splitext(name)[0] + '.png'),
                (rgb * 255).astype(np.uint8)[..., ::-1])


# ------------------------------------------------------------ driver
def same_pairs(ir_dir: str, vi_dir: str) -> int:
    """The number of pairs, after checking that the plain loop (identical
    file names in both folders, as research scripts pair them) and
    ``fuse.py`` (mmfusion's rule, :mod:`mmfusion.datasets.pairing`) fuse the
    same pairs: otherwise the contenders would not do the same work."""
    sys.path.insert(0, REPO)
    from mmfusion.datasets.pairing import pair_folders
    pairs = pair_folders(ir_dir, vi_dir, unmatched='error')
    ours = {(osp.basename(i), osp.basename(v)) for _, i, v in pairs.files()}
    plain = {(n, n) for n in set(os.listdir(ir_dir)) & set(os.listdir(vi_dir))}
    if ours != plain:
        differ = sorted(ours ^ plain)
        raise SystemExit(
            f'{ir_dir} and {vi_dir}: the plain loop pairs files of identical '
            "names, fuse.py pairs images by name without extension "
            f'(mmfusion.datasets.pairing); they differ on {differ[:3]}: '
            'benchmark folders whose pairs have the same file names and '
            'that hold nothing but the images')
    return len(pairs)


def command(name: str, args, ckpt: str, out_dir: str) -> list:
    if name == 'plain':
        return [
            sys.executable, __file__, '--ir', args.ir, '--vi', args.vi,
            '--device', args.device, '--plain-loop', ckpt, out_dir
        ]
    cmd = [
        sys.executable,
        osp.join(REPO, 'tools', 'fuse.py'), CONFIG, ckpt, '--ir', args.ir,
        '--vi', args.vi, '--out', out_dir, '--overwrite', '--no-progress',
        '--rounding', 'floor', '--device', args.device
    ]
    if name in ('bf16', 'fp16'):
        return cmd + ['--backend', 'pytorch', '--precision', name]
    return cmd + ['--backend', name]


def run(cmd: list, threads: int) -> tuple:
    """(wall seconds, peak RSS MiB) of one process."""
    env = dict(
        os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    err = proc.stderr.read().decode(errors='replace')
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f'{" ".join(cmd)} failed:\n{err[-3000:]}')
    return seconds, usage.ru_maxrss / 1024


def max_diff(a_dir: str, b_dir: str) -> int:
    import cv2
    import numpy as np
    worst = 0
    for name in sorted(os.listdir(a_dir)):
        if not name.endswith('.png'):
            continue
        a = cv2.imread(osp.join(a_dir, name), cv2.IMREAD_UNCHANGED)
        b = cv2.imread(osp.join(b_dir, name), cv2.IMREAD_UNCHANGED)
        worst = max(worst, int(np.abs(a.astype(int) - b.astype(int)).max()))
    return worst


def random_checkpoint(path: str) -> str:
    import torch
    sys.path.insert(0, REPO)
    from mmfusion.models.fusion_nets.seafusion_net import SeAFusionNet
    torch.manual_seed(0)
    net = SeAFusionNet()
    torch.save(
        dict(state_dict={
            f'fusion_net.{k}': v
            for k, v in net.state_dict().items()
        }), path)
    return path


def main(argv=None):
    args = parse_args(argv)
    if args.plain_loop:
        plain_loop(args.ir, args.vi, *args.plain_loop, device=args.device)
        return 0
    work = args.work_dir or tempfile.mkdtemp(prefix='benchmark_fuse_')
    os.makedirs(work, exist_ok=True)
    ckpt = args.checkpoint or random_checkpoint(osp.join(work, 'net.pth'))
    n_pairs = same_pairs(args.ir, args.vi)
    print(
        f'{n_pairs} pairs from {args.ir}; checkpoint {ckpt}; device '
        f'{args.device}; load average {os.getloadavg()[0]:.2f}',
        flush=True)

    def out_dir(name, threads):
        return osp.join(work, f'{name}_t{threads}')

    # warm-up: compile caches, page cache
    for name in args.contenders:
        run(command(name, args, ckpt, out_dir(name, 1)), 1)
    times = {(n, t): [] for n in args.contenders for t in args.threads}
    rss = {}
    for rep in range(args.repeats):
        for threads in args.threads:
            for name in args.contenders:
                d = out_dir(name, threads)
                shutil.rmtree(d, ignore_errors=True)
                seconds, mib = run(command(name, args, ckpt, d), threads)
                times[(name, threads)].append(seconds)
                rss[(name, threads)] = max(rss.get((name, threads), 0), mib)
                print(
                    f'  repeat {rep} threads {threads} {name}: '
                    f'{seconds:.1f} s, {mib:.0f} MiB',
                    flush=True)
    rows = []
    for threads in args.threads:
        base = statistics.median(times[('plain', threads)]) \
            if 'plain' in args.contenders else None
        for name in args.contenders:
            med = statistics.median(times[(name, threads)])
            diff = max_diff(out_dir('plain', threads), out_dir(
                name, threads)) if 'plain' in args.contenders else None
            rows.append(
                dict(
                    contender=name,
                    threads=threads,
                    seconds=med,
                    seconds_per_pair=med / n_pairs,
                    pairs_per_second=n_pairs / med,
                    speedup=base / med if base else None,
                    peak_rss_mib=rss[(name, threads)],
                    max_diff_vs_plain=diff,
                    runs=times[(name, threads)]))
    print(f'\n{n_pairs} pairs on {args.device}, median of {args.repeats} '
          'interleaved runs, load average after: '
          f'{os.getloadavg()[0]:.2f}')
    print('| contender | threads | s (end to end) | s/pair | pairs/s | '
          'speed-up vs plain | peak RSS MiB | max diff vs plain |')
    print('|---|---|---|---|---|---|---|---|')
    for r in rows:
        sp = f'{r["speedup"]:.2f}x' if r['speedup'] else '-'
        print(f'| {r["contender"]} | {r["threads"]} | {r["seconds"]:.1f} | '
              f'{r["seconds_per_pair"]:.2f} | {r["pairs_per_second"]:.2f} | '
              f'{sp} | '
              f'{r["peak_rss_mib"]:.0f} | {r["max_diff_vs_plain"]} |')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(
                dict(pairs=n_pairs, device=args.device, rows=rows),
                f,
                indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
