# Copyright (c) mmfusion contributors. All rights reserved.
"""Parameters, FLOPs and inference speed of the networks of a config.

    python tools/analysis_tools/benchmark.py CONFIG [CKPT] \
        [--shape 480 640] [--repeats 10] [--warmup 3] [--device cpu] \
        [--threads N] [--clock {wall,cpu}] [--no-compile] [--out FILE]

For each network of the model (``fusion_net``, and ``loss_generator`` /
``discriminator`` when the algorithm has them) it prints the trainable
parameters, the multiply-accumulates and FLOPs of one forward at batch 1 and
``--shape`` (default 640x480, counted by ``torch.utils.flop_counter``:
convolutions and matrix products, 1 MAC = 2 FLOPs), and the speed of

* ``eager``: a straightforward eager forward under ``torch.no_grad()``;
* ``compiled``: mmfusion's inference path (``compile_inference=True``, see
  ``mmfusion/models/utils/inference.py``), for nets that support it,

as the median over ``--repeats`` timed runs after ``--warmup`` untimed ones,
with the speed-up of the compiled path, the achieved GFLOP/s and the largest
difference between the two outputs. Random inputs are used (the speed of
these nets does not depend on the content). This is a benchmark, not a test:
figures depend on the machine and its load. On a shared, busy CPU,
``--threads 1 --clock cpu`` times with the thread's CPU time, which other
processes barely disturb (single-thread figures).
"""
import argparse
import json
import statistics
import time

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint
from torch.utils.flop_counter import FlopCounterMode

import mmfusion  # noqa: F401  (compatibility patches)
from mmfusion.registry import MODELS

# (attribute of the algorithm, number of image inputs)
NETS = (('fusion_net', 2), ('loss_generator', 2), ('discriminator', 1))


def parse_args():
    parser = argparse.ArgumentParser(
        description='Benchmark the networks of an mmfusion config')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', nargs='?', help='optional checkpoint')
    parser.add_argument(
        '--shape', type=int, nargs=2, default=[480, 640], metavar=('H', 'W'))
    parser.add_argument('--repeats', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument(
        '--device',
        default='cuda' if torch.cuda.is_available() else 'cpu',
        help='cpu or cuda (default: cuda when available)')
    parser.add_argument(
        '--threads', type=int, help='CPU threads (torch.set_num_threads)')
    parser.add_argument(
        '--clock',
        choices=['wall', 'cpu'],
        default='wall',
        help="'cpu': CPU time of the calling thread (needs --threads 1 on "
        'CPU); robust to other load on the machine')
    parser.add_argument(
        '--no-compile',
        action='store_true',
        help='time the eager forward only')
    parser.add_argument('--out', help='also write the results as JSON')
    return parser.parse_args()


def count_macs(net, inputs) -> int:
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        net(*inputs)
    return counter.get_total_flops() // 2


def time_forward(net, inputs, repeats: int, warmup: int,
                 device: torch.device, clock=time.perf_counter) -> tuple:
    """(median seconds per forward, first-call seconds, output)."""

    def sync():
        if device.type == 'cuda':
            torch.cuda.synchronize(device)

    with torch.no_grad():
        sync()
        start = time.perf_counter()  # compiling: wall time in any case
        out = net(*inputs)
        sync()
        first = time.perf_counter() - start
        for _ in range(max(warmup - 1, 0)):
            net(*inputs)
        times = []
        for _ in range(repeats):
            sync()
            start = clock()
            net(*inputs)
            sync()
            times.append(clock() - start)
    return statistics.median(times), first, out


def benchmark_net(name, net, n_inputs, args, device) -> dict:
    h, w = args.shape
    g = torch.Generator().manual_seed(0)
    inputs = [
        torch.rand(1, 1, h, w, generator=g).to(device) for _ in range(n_inputs)
    ]
    has_compiled = hasattr(net, 'compile_inference')
    configured = bool(getattr(net, 'compile_inference', False))
    result = dict(
        net=name,
        type=type(net).__name__,
        params=sum(p.numel() for p in net.parameters() if p.requires_grad),
        input_shape=[h, w],
        device=str(device),
        threads=torch.get_num_threads(),
        clock=args.clock)
    if has_compiled:
        net.compile_inference = False
    result['gmac'] = count_macs(net, inputs) / 1e9
    gflop = 2 * result['gmac']
    clock = time.thread_time if args.clock == 'cpu' else time.perf_counter
    eager_s, _, eager_out = time_forward(net, inputs, args.repeats,
                                         args.warmup, device, clock)
    result.update(
        eager_s=eager_s,
        eager_pairs_per_s=1 / eager_s,
        eager_gflops_per_s=gflop / eager_s)
    if has_compiled and not args.no_compile:
        net.compile_inference = True
        comp_s, first_s, comp_out = time_forward(net, inputs, args.repeats,
                                                 args.warmup, device, clock)
        result.update(
            compiled_s=comp_s,
            compiled_pairs_per_s=1 / comp_s,
            compiled_gflops_per_s=gflop / comp_s,
            compile_first_call_s=first_s,
            speedup=eager_s / comp_s,
            max_abs_diff=float((comp_out - eager_out).abs().max()))
    if has_compiled:
        net.compile_inference = configured
    return result


def format_result(r: dict) -> str:
    lines = [
        f"{r['net']} ({r['type']}): {r['params']:,} parameters, "
        f"{r['gmac']:.2f} GMAC = {2 * r['gmac']:.2f} GFLOP per forward at "
        f"{r['input_shape'][1]}x{r['input_shape'][0]}, batch 1, "
        f"{r['device']} ({r['threads']} threads, {r['clock']} clock)",
        f"  eager:    {r['eager_s'] * 1e3:9.1f} ms  "
        f"{r['eager_pairs_per_s']:7.2f} /s  "
        f"{r['eager_gflops_per_s']:7.1f} GFLOP/s"
    ]
    if 'compiled_s' in r:
        lines.append(
            f"  compiled: {r['compiled_s'] * 1e3:9.1f} ms  "
            f"{r['compiled_pairs_per_s']:7.2f} /s  "
            f"{r['compiled_gflops_per_s']:7.1f} GFLOP/s  "
            f"speed-up {r['speedup']:.2f}x, max |diff| "
            f"{r['max_abs_diff']:.1e}, first call (compiling) "
            f"{r['compile_first_call_s']:.1f} s")
    return '\n'.join(lines)


def main():
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if args.clock == 'cpu' and (device.type != 'cpu'
                                or torch.get_num_threads() != 1):
        raise ValueError('--clock cpu measures the calling thread only: use '
                         'it with --device cpu --threads 1')
    cfg = Config.fromfile(args.config)
    init_default_scope(cfg.get('default_scope', 'mmfusion'))
    model = MODELS.build(cfg.model)
    if args.checkpoint:
        load_checkpoint(model, args.checkpoint, map_location='cpu')
    model.to(device).eval()
    results = []
    for name, n_inputs in NETS:
        net = getattr(model, name, None)
        if net is None:
            continue
        results.append(benchmark_net(name, net, n_inputs, args, device))
        print(format_result(results[-1]), flush=True)
    if not results:
        raise ValueError(f'{args.config}: the model has none of '
                         f'{[n for n, _ in NETS]} to benchmark')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(results, f, indent=2)


if __name__ == '__main__':
    main()
