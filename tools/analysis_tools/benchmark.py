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
difference between the two outputs.

``--paths`` also times other ways to run the fusion net, interleaved (one
call of each path in turn, ``--repeats`` rounds), each against the eager
output: ``channels_last`` (eager, NHWC), ``frozen`` (``torch.compile`` with
Inductor's ``freezing``: weights prepacked, conv + activation fused;
NHWC), ``onnxruntime`` (the ``tools/fuse.py`` backend), ``onnxruntime_b2``
and ``eager_b2`` (two same-size pairs per call; time per pair), ``bf16`` /
``fp16`` (autocast, NHWC; outputs move by more than 1e-5).

Random inputs are used (the speed of
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
from torch.utils.flop_counter import FlopCounterMode

import mmfusion  # noqa: F401
from mmfusion.registry import MODELS
from mmfusion.utils.checkpoint import load_model_checkpoint

# (attribute of the algorithm, number of image inputs)
NETS = (('fusion_net', 2), ('loss_generator', 2), ('discriminator', 1))
PATHS = ('eager', 'compiled', 'channels_last', 'frozen', 'onnxruntime',
         'onnxruntime_b2', 'eager_b2', 'bf16', 'fp16')


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
    parser.add_argument(
        '--paths',
        nargs='+',
        choices=PATHS,
        help='also time these inference paths of the fusion net, '
        'interleaved (see above)')
    parser.add_argument('--out', help='also write the results as JSON')
    return parser.parse_args()


def count_macs(net, inputs) -> int:
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        net(*inputs)
    return counter.get_total_flops() // 2


def time_forward(net,
                 inputs,
                 repeats: int,
                 warmup: int,
                 device: torch.device,
                 clock=time.perf_counter) -> tuple:
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


def _path(name: str, net, device):
    """(callable, batch) for one inference path of a fusion net."""
    import copy

    from mmfusion.apis.inference_backends import (AutocastFusionNet,
                                                  build_inference_net)
    base = copy.deepcopy(net).eval()
    if hasattr(base, 'compile_inference'):
        base.compile_inference = False
    batch = 2 if name.endswith('_b2') else 1
    if name in ('eager', 'eager_b2'):
        return base, batch
    if name == 'compiled':
        base.compile_inference = True
        return base, batch
    if name == 'channels_last':
        return AutocastFusionNet(base, 'fp32', channels_last=True), batch
    if name in ('bf16', 'fp16'):
        return AutocastFusionNet(base, name, channels_last=True), batch
    if name.startswith('onnxruntime'):
        return build_inference_net(base, 'onnxruntime', device=device), batch
    if name == 'frozen':
        import torch._inductor.config as inductor_config
        fwd = getattr(base, '_forward', base.forward)
        wrapped = AutocastFusionNet(_Plain(fwd), 'fp32', channels_last=True)
        base.to(memory_format=torch.channels_last)
        compiled = torch.compile(wrapped)

        def run(*inputs):
            with inductor_config.patch(freezing=True):
                return compiled(*inputs)

        return run, batch
    raise ValueError(name)


class _Plain(torch.nn.Module):

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *inputs):
        return self.fn(*inputs)


def benchmark_paths(net, n_inputs, args, device) -> list:
    """Time ``args.paths`` interleaved; rows with seconds per pair."""
    h, w = args.shape
    g = torch.Generator().manual_seed(0)
    one = [
        torch.rand(1, 1, h, w, generator=g).to(device) for _ in range(n_inputs)
    ]
    two = [torch.cat([x, x.flip(-1)]) for x in one]
    clock = time.thread_time if args.clock == 'cpu' else time.perf_counter
    runs = {}
    with torch.no_grad():
        ref = _path('eager', net, device)[0](*one)
        for name in args.paths:
            fn, batch = _path(name, net, device)
            inputs = two if batch == 2 else one
            start = time.perf_counter()
            out = fn(*inputs)  # compiles / exports
            first = time.perf_counter() - start
            for _ in range(max(args.warmup - 1, 0)):
                fn(*inputs)
            runs[name] = dict(
                fn=fn,
                batch=batch,
                inputs=inputs,
                times=[],
                first_call_s=first,
                max_abs_diff=float((out[:1].float() - ref).abs().max()))
        for _ in range(args.repeats):
            for r in runs.values():
                if device.type == 'cuda':
                    torch.cuda.synchronize(device)
                start = clock()
                r['fn'](*r['inputs'])
                if device.type == 'cuda':
                    torch.cuda.synchronize(device)
                r['times'].append((clock() - start) / r['batch'])
    eager = statistics.median(runs['eager']['times']) \
        if 'eager' in runs else None
    rows = []
    for name, r in runs.items():
        s = statistics.median(r['times'])
        rows.append(
            dict(
                path=name,
                s_per_pair=s,
                pairs_per_s=1 / s,
                speedup_vs_eager=eager / s if eager else None,
                max_abs_diff=r['max_abs_diff'],
                first_call_s=r['first_call_s']))
    return rows


def format_paths(rows, args) -> str:
    lines = [
        f'inference paths of fusion_net, interleaved, median of '
        f'{args.repeats} ({args.clock} clock):',
        '| path | ms / pair | pairs/s | speed-up vs eager | max abs '
        'diff vs eager | first call s |', '|---|---|---|---|---|---|'
    ]
    for r in rows:
        sp = f"{r['speedup_vs_eager']:.2f}x" if r['speedup_vs_eager'] \
            else '-'
        lines.append(f"| {r['path']} | {r['s_per_pair'] * 1e3:.1f} | "
                     f"{r['pairs_per_s']:.2f} | {sp} | "
                     f"{r['max_abs_diff']:.1e} | {r['first_call_s']:.1f} |")
    return '\n'.join(lines)


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
        lines.append(f"  compiled: {r['compiled_s'] * 1e3:9.1f} ms  "
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
        load_model_checkpoint(model, args.checkpoint, map_location='cpu')
    model.to(device).eval()
    results = []
    for name, n_inputs in NETS:
        net = getattr(model, name, None)
        if net is None:
            continue
        results.append(benchmark_net(name, net, n_inputs, args, device))
        print(format_result(results[-1]), flush=True)
        if args.paths and name == 'fusion_net':
            results[-1]['paths'] = benchmark_paths(net, n_inputs, args, device)
            print(format_paths(results[-1]['paths'], args), flush=True)
    if not results:
        raise ValueError(f'{args.config}: the model has none of '
                         f'{[n for n, _ in NETS]} to benchmark')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(results, f, indent=2)


if __name__ == '__main__':
    main()
