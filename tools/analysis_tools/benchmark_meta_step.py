# Copyright (c) mmfusion contributors. All rights reserved.
"""Time and peak memory, per phase, of TDFusion's meta step and of its
fusion + task step; with ``--compare-baseline``, of the meta step's default
path (``hypergrad='jvp'``) against the pre-issue-15 path
(``hypergrad='full_backward'``), interleaved in the same process.

    python tools/analysis_tools/benchmark_meta_step.py [CONFIG] \
        [--preset published|demo | --crop H W --task-size H W] \
        [--iters 2] [--threads 1] [--compare-baseline | --all-modes |
         --modes jvp jvp+keep double_backward full_backward] \
        [--device cuda] [--amp [--amp-dtype float16|bfloat16]] \
        [--no-fusion-step] [--out results.json]

Modes (``TDFusion(hypergrad=...)``): ``jvp`` as configured (default: the loss
generator recomputed, ``recompute_generator='auto'``), ``jvp+keep``
(``recompute_generator=False``), ``double_backward``, ``full_backward`` (the
old path). The old path needs about twice the memory of the new one: at the
published sizes ~12 GB of RAM on the CPU.

Defaults: ``configs/tdfusion/segformer_msrs.py`` (ReFusion net, loss
generator, SegFormer-B0 in-loop task on the 1-channel fused Y), the
published sizes (``--preset published``: 256x256 fusion crops, 240x320 task
input; ``--preset demo``: 128x128 and 120x160), one pair per batch doubled by
the modality swap, real pairs from ``data/msrs_demo``.

How it measures. One fresh worker process per run (so nothing of an earlier
run stays in the allocator). The model is built once; each measured
iteration runs the meta step in every compared mode and then one fusion +
task step, on the same batches, the order of the modes alternating from one
iteration to the next (ABF, BAF, ...), so that a load change on a shared
machine hits both modes alike; one unmeasured warm-up iteration first.
Reported: the median over iterations of each phase's time and of its peak
memory, and of the whole step's.

* CUDA: ``torch.cuda.synchronize`` at each phase boundary; peak memory =
  ``torch.cuda.max_memory_allocated`` (reset at each phase start), and the
  step's increase over what was allocated when it started.
* CPU: peak resident set size (``VmHWM``, reset at each phase start through
  ``/proc/self/clear_refs``), absolute (includes ~0.6-1 GB of libraries,
  weights, optimiser state and data) and as the increase over the RSS when
  the step started; free heap memory is returned to the OS
  (``malloc_trim``) between steps, outside the timed region, so one mode's
  freed memory does not count in the next one's peak.

``--amp`` turns every sub-network's optimiser wrapper into an AMP wrapper
(CUDA: ``AmpOptimWrapper`` with ``--amp-dtype``, default float16; CPU:
bfloat16 ``CPUAmpOptimWrapper``), as ``tools/train.py --amp``; the meta
step's virtual step, double backward and outer loss stay in float32 by
design (docs/tdfusion.md), the task's temporary step and the fusion + task
step run under autocast.
"""
import argparse
import ctypes
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import time

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PRESETS = dict(
    published=((256, 256), (240, 320)), demo=((128, 128), (120, 160)))
# TDFusion's hypergrad modes; 'jvp' with recompute_generator as configured
# (default: recomputed), 'jvp+keep': with recompute_generator=False
MODES = ('jvp', 'jvp+keep', 'double_backward', 'full_backward')
OLD = 'full_backward'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        'config',
        nargs='?',
        default=osp.join(REPO, 'configs/tdfusion/segformer_msrs.py'))
    parser.add_argument(
        '--preset', choices=sorted(PRESETS), default='published')
    parser.add_argument(
        '--crop', type=int, nargs=2, help='fusion crop (overrides --preset)')
    parser.add_argument(
        '--task-size',
        type=int,
        nargs=2,
        help='task input (overrides --preset)')
    parser.add_argument(
        '--iters',
        type=int,
        default=2,
        help='measured iterations (after one warm-up)')
    parser.add_argument(
        '--threads', type=int, help='torch.set_num_threads in the worker')
    parser.add_argument(
        '--compare-baseline',
        action='store_true',
        help="also time hypergrad='full_backward', "
        'interleaved')
    parser.add_argument(
        '--hypergrad',
        choices=MODES,
        default='jvp',
        help="TDFusion's hypergrad mode to measure")
    parser.add_argument(
        '--all-modes',
        action='store_true',
        help='measure every hypergrad mode, interleaved')
    parser.add_argument(
        '--modes',
        nargs='+',
        choices=MODES,
        help='measure these modes, interleaved')
    parser.add_argument(
        '--no-fusion-step',
        action='store_true',
        help='skip the fusion + task step')
    parser.add_argument('--amp', action='store_true')
    parser.add_argument('--amp-dtype', choices=['float16', 'bfloat16'])
    parser.add_argument(
        '--data-root', default=osp.join(REPO, 'data/msrs_demo'))
    parser.add_argument('--device', default=None)
    parser.add_argument('--out', help='write the results as JSON')
    parser.add_argument(
        '--worker', action='store_true',
        help=argparse.SUPPRESS)  # internal: the measurement
    args = parser.parse_args(argv)
    crop, task = PRESETS[args.preset]
    args.crop = tuple(args.crop or crop)
    args.task_size = tuple(args.task_size or task)
    return args


# ----------------------------------------------------------------- memory
def _rss_mb(field: str) -> float:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1]) / 1024
    return float('nan')


class Memory:
    """Peak memory per phase: CUDA max allocated, or the CPU's peak RSS."""

    def __init__(self, device: str):
        import torch
        self.torch = torch
        self.cuda = device.startswith('cuda')
        self.kind = 'CUDA max allocated' if self.cuda else 'CPU peak RSS'
        self._libc = None
        if not self.cuda:
            try:
                self._libc = ctypes.CDLL('libc.so.6')
            except OSError:
                pass

    def sync(self):
        if self.cuda:
            self.torch.cuda.synchronize()

    def release(self):
        """Between steps, outside the timed region: give free memory back
        so a step's peak does not include an earlier step's leftovers."""
        import gc
        gc.collect()
        if self.cuda:
            self.torch.cuda.empty_cache()
        elif self._libc is not None:
            self._libc.malloc_trim(0)

    def current(self) -> float:
        if self.cuda:
            return self.torch.cuda.memory_allocated() / 2**20
        return _rss_mb('VmRSS')

    def reset_peak(self):
        if self.cuda:
            self.torch.cuda.reset_peak_memory_stats()
        else:
            try:
                with open('/proc/self/clear_refs', 'w') as f:
                    f.write('5')
            except OSError:  # not Linux / not allowed: lifetime peak
                pass

    def peak(self) -> float:
        if self.cuda:
            return self.torch.cuda.max_memory_allocated() / 2**20
        return _rss_mb('VmHWM')


class PhaseRecorder:
    """The algorithm's ``phase_timer``: called with the name of the phase
    that begins (``None`` ends the step)."""

    def __init__(self, memory: Memory):
        self.memory = memory
        self.times, self.peaks = {}, {}
        self.current = None
        self.t0 = None

    def start(self):
        self.memory.sync()
        self.base = self.memory.current()
        self.times, self.peaks = {}, {}
        self.current, self.t0 = None, None
        self.memory.reset_peak()
        self.step_t0 = time.perf_counter()
        self.step_c0 = time.process_time()

    def __call__(self, name):
        self.memory.sync()
        now = time.perf_counter()
        if self.current is not None:
            self.times[self.current] = self.times.get(self.current, 0.) + \
                now - self.t0
            self.peaks[self.current] = max(
                self.peaks.get(self.current, 0.), self.memory.peak())
        self.memory.reset_peak()
        self.current = name
        self.t0 = time.perf_counter()

    def finish(self) -> dict:
        self.memory.sync()
        total = time.perf_counter() - self.step_t0
        # the process's CPU time: with one thread, robust to other load
        cpu = time.process_time() - self.step_c0
        if self.current is not None:
            self(None)
        peak = max(self.peaks.values())
        return dict(
            seconds=total,
            cpu_seconds=cpu,
            peak_mb=peak,
            peak_increase_mb=peak - self.base,
            phases={
                k: dict(seconds=self.times[k], peak_mb=self.peaks[k])
                for k in self.times
            })


# ----------------------------------------------------------------- worker
def measure(args) -> dict:
    import torch
    if args.threads:
        torch.set_num_threads(args.threads)
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.logging import MessageHub
    from mmengine.registry import init_default_scope

    import mmfusion  # noqa: F401
    from mmfusion.engine.optimizers import enable_amp
    from mmfusion.models.utils.misc import unwrap
    from mmfusion.registry import DATASETS, MODELS, OPTIM_WRAPPER_CONSTRUCTORS
    from mmfusion.structures import phase_scope

    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    if device.startswith('cuda') and torch.device(device).index is not None:
        torch.cuda.set_device(torch.device(device))
    init_default_scope('mmfusion')
    cfg = Config.fromfile(args.config)
    cfg.model.fusion_crop_size = tuple(args.crop)
    cfg.model.task_input_size = tuple(args.task_size)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).to(device).train()
    ow_cfg = dict(cfg.optim_wrapper)
    if args.amp:
        ow_cfg = enable_amp(ow_cfg, args.amp_dtype)
    constructor = ow_cfg.pop('constructor')
    ow = OPTIM_WRAPPER_CONSTRUCTORS.build(
        dict(type=constructor, optim_wrapper_cfg=ow_cfg))(
            model)
    ds = DATASETS.build(
        dict(
            type='MSRSDataset',
            data_root=args.data_root,
            data_prefix=dict(
                ir='train/ir', vis='train/vi',
                seg='train/Segmentation_labels'),
            pipeline=cfg.train_dataloader.dataset.pipeline))
    bs = cfg.train_dataloader.get('batch_size', 1)
    batches = [
        pseudo_collate([ds[(i * bs + j) % len(ds)] for j in range(bs)])
        for i in range(2 * (args.iters + 1))
    ]
    hub = MessageHub.get_current_instance()
    memory = Memory(device)
    recorder = PhaseRecorder(memory)
    algo = unwrap(model)
    algo.phase_timer = recorder
    recompute = algo.recompute_generator
    if args.modes:
        modes = list(args.modes)
    elif args.all_modes:
        modes = list(MODES)
    elif args.compare_baseline and args.hypergrad != OLD:
        modes = [args.hypergrad, OLD]
    else:
        modes = [args.hypergrad]

    def run(kind, i):
        memory.release()
        hub.update_info('iter', i)
        recorder.start()
        if kind == 'fusion':
            with phase_scope('fusion'):
                model.train_step(batches[2 * i], ow)
        else:
            algo.hypergrad = kind.split('+')[0]
            algo.recompute_generator = recompute and kind != 'jvp+keep'
            with phase_scope('meta'):
                model.train_step([batches[2 * i], batches[2 * i + 1]], ow)
        return recorder.finish()

    kinds_of = {}
    load = [os.getloadavg()]
    for i in range(args.iters + 1):  # iteration 0: warm-up
        order = modes if i % 2 == 0 else modes[::-1]
        if not args.no_fusion_step:
            order = order + ['fusion']
        for kind in order:
            result = run(kind, i)
            # progress (what a killed worker leaves behind)
            print(
                'STEP ' + json.dumps(dict(kind=kind, iter=i, **result)),
                flush=True)
            if i > 0:
                kinds_of.setdefault(kind, []).append(result)
        load.append(os.getloadavg())
    summary = {}
    for kind, runs in kinds_of.items():
        phases = list(runs[0]['phases'])
        summary[kind] = dict(
            seconds=statistics.median(r['seconds'] for r in runs),
            cpu_seconds=statistics.median(r['cpu_seconds'] for r in runs),
            all_seconds=[r['seconds'] for r in runs],
            peak_mb=statistics.median(r['peak_mb'] for r in runs),
            peak_increase_mb=statistics.median(r['peak_increase_mb']
                                               for r in runs),
            phases={
                p:
                dict(
                    seconds=statistics.median(r['phases'][p]['seconds']
                                              for r in runs),
                    peak_mb=statistics.median(r['phases'][p]['peak_mb']
                                              for r in runs))
                for p in phases
            })
    return dict(
        config=args.config,
        crop=list(args.crop),
        task_size=list(args.task_size),
        iters=args.iters,
        device=device,
        device_name=(torch.cuda.get_device_name(device)
                     if device.startswith('cuda') else 'cpu'),
        threads=torch.get_num_threads(),
        amp=args.amp,
        amp_dtype=args.amp_dtype,
        mem_kind=memory.kind,
        batch=bs * (2 if cfg.model.get('swap_modalities') else 1),
        load_avg_1min=[round(x[0], 2) for x in load],
        results=summary)


# ----------------------------------------------------------------- report
def report(res: dict) -> str:
    r = res['results']
    lines = [
        f'config: {res["config"]}',
        f'fusion crop {res["crop"][0]}x{res["crop"][1]}, task input '
        f'{res["task_size"][0]}x{res["task_size"][1]}, batch {res["batch"]} '
        f'(pairs incl. modality swap), device {res["device_name"]}, '
        f'{res["threads"]} threads, AMP '
        f'{(res["amp_dtype"] or "default") if res["amp"] else "off"}, median '
        f'of {res["iters"]} interleaved iterations after a warm-up',
        f'1-min load average during the run: '
        f'{min(res["load_avg_1min"]):.2f}-{max(res["load_avg_1min"]):.2f}',
        f'memory: {res["mem_kind"]}',
    ]
    meta_modes = [m for m in MODES if m in r]
    others = [m for m in meta_modes if m != OLD] if OLD in r else []
    nan = dict(seconds=float('nan'), peak_mb=float('nan'))
    if meta_modes:
        phases = []
        for m in meta_modes:
            phases += [p for p in r[m]['phases'] if p not in phases]
        lines += [
            '', 'meta step: s and peak MB per phase' +
            (', and new/old ratios (old: full_backward)' if others else '')
        ]
        head = f'{"phase":<22}'
        for m in meta_modes:
            head += f'{m + " s":>18}{"MB":>7}'
        for m in others:
            head += f'{m[:6] + " t":>9}{"mem":>6}'
        lines.append(head)
        rows = [(p, {
            m: r[m]['phases'].get(p, nan)
            for m in meta_modes
        }) for p in phases]
        rows.append(('whole step', {m: r[m] for m in meta_modes}))
        for p, by_mode in rows:
            row = f'{p:<22}'
            for m in meta_modes:
                row += f'{by_mode[m]["seconds"]:>18.3f}' \
                    f'{by_mode[m]["peak_mb"]:>7.0f}'
            for m in others:
                a, b = by_mode[m], by_mode[OLD]
                t = a['seconds'] / b['seconds'] if b['seconds'] else \
                    float('nan')
                row += f'{t:>9.2f}{a["peak_mb"] / b["peak_mb"]:>6.2f}'
            lines.append(row)
        row = f'{"  peak increase":<22}'
        for m in meta_modes:
            row += f'{"":>18}{r[m]["peak_increase_mb"]:>7.0f}'
        for m in others:
            inc = r[m]['peak_increase_mb'] / r[OLD]['peak_increase_mb']
            row += f'{"":>9}{inc:>6.2f}'
        lines.append(row)
        for m in meta_modes:
            lines.append(f'{m} step times: ' +
                         ', '.join(f'{s:.3f}' for s in r[m]['all_seconds']))
    if 'fusion' in r:
        f = r['fusion']
        lines += [
            '', f'{"fusion + task step phase":<26}{"s":>10}'
            f'{"peak MB":>10}'
        ]
        for p, ph in f['phases'].items():
            lines.append(f'{p:<26}{ph["seconds"]:>10.3f}'
                         f'{ph["peak_mb"]:>10.0f}')
        lines.append(f'{"whole step":<26}{f["seconds"]:>10.3f}'
                     f'{f["peak_mb"]:>10.0f}  (increase '
                     f'{f["peak_increase_mb"]:.0f})')
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        print('RESULT ' + json.dumps(measure(args)))
        return
    cmd = [sys.executable, osp.abspath(__file__)] + \
        (sys.argv[1:] if argv is None else list(argv)) + ['--worker']
    out = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONWARNINGS='ignore'))
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith('RESULT ')]
    if out.returncode != 0 or not lines:
        steps = [
            ln[5:] for ln in out.stdout.splitlines() if ln.startswith('STEP ')
        ]
        why = f'the worker exited with {out.returncode}'
        if out.returncode in (-9, 137):
            why += ' (SIGKILL: out of memory?)'
        sys.exit(f'{why}; steps it finished:\n' + '\n'.join(steps) + '\n' +
                 out.stderr[-5000:])
    res = json.loads(lines[-1][len('RESULT '):])
    print(report(res))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(res, f, indent=1)


if __name__ == '__main__':
    main()
