# Copyright (c) mmfusion contributors. All rights reserved.
"""mmfusion's ReFusion net and TDFusion training iteration against the
released TDFusion code (HaowenBai/TDFusion), with the same weights.

    python tools/analysis_tools/benchmark_refusion.py --official DIR \\
        [--checkpoint TDFusion_MSRS.pth] \\
        [--device cpu|cuda] [--threads 1] [--rounds 5] [--warmup 1] \\
        [--shape 480 640] [--crop 256 256] \\
        [--malloc default|cached|keep-freed] [--iters 2] [--steps 6] \\
        [--parts net step iteration] [--out FILE]

``DIR`` is a checkout of the released code (``nets/ReFusion.py``; for the
iteration also ``nets/Segformer.py``, ``nets/backbone_SS.py``, ``utils.py``;
it needs ``einops``). It is imported from there, never copied.

``net`` (in this process): the released ``ReFusion`` and mmfusion's
:class:`~mmfusion.models.ReFusionNet` with the released net's weights put
through the converter (``tdfusion_convert``, as
``tools/model_converters/tdfusion2mmfusion.py``): the released weights with
``--checkpoint``, else a seeded random init of the released net. Timed, in
interleaved rounds (one call of every contender in turn, ``--rounds``
rounds after ``--warmup``):

* ``forward``: one ``--shape`` pair (batch 1) under ``torch.no_grad()``;
* ``forward+backward``: the training crop batch, one ``--crop`` pair and
  its modality-swapped copy (2 x 1 x H x W, as TDFusion trains), loss
  ``mean(fused^2)``, backward into the weights.

Contenders: ``released`` (eager, as published), ``mmfusion`` (the default
fast path; its no-grad forward on CPU is band-tiled), ``mmfusion-plain``
(``fast=False``, the layer-by-layer path); on the forward also
``mmfusion-untiled`` (``tile_pixels=0``: the fast path on whole-image
tensors) and ``mmfusion-compiled`` (``compile_inference=True,
tile_pixels=0``: the untiled fast path through ``torch.compile``) unless
``--no-compile``; on CUDA also fp16 autocast of both. Reported:
medians of the thread's CPU time (one CPU thread only) and of wall time,
the ratios released / contender, the largest output (and gradient)
difference from the released net, the load average, thread count and CPU
(model and AVX-512/AMX flags).

``step`` (one fresh child process per contender and round, in rotating
order): ``--steps`` training steps as a training process runs them (Adam
on the crop batch, loss ``mean(fused^2)``), steps 2..N counted: median CPU
time and minor page faults per step of ``released``, ``mmfusion`` (the
default, batch chunks below ``batch_chunk_bytes``) and
``mmfusion-whole-batch`` (``batch_chunk_bytes=0``). A warm process running
every contender in turn (``net``) reuses memory the others freed; a
training process does not, so this is where the allocator shows.

``iteration`` (one fresh child process per contender and round,
interleaved): the whole TDFusion training iteration at the published sizes
(``configs/tdfusion/segformer_msrs.py``: 256x256 fusion crops, 240x320 task
input, one pair doubled by the modality swap, SegFormer-B0 on the fused Y):
mmfusion's meta step + fusion/task step (via ``benchmark_meta_step.py``'s
worker), against the released loop's body (``train.py``: the inner pass,
the outer pass and one "learning of F and T" pass, driven here with the
released modules, losses and update functions on the same MSRS images).
Time (wall and the process's CPU time) and peak memory (CPU: peak RSS of
the child, ``VmHWM`` reset before the step; CUDA:
``max_memory_allocated``). The released child runs ``--warmup`` unmeasured
iterations first, mmfusion's (``benchmark_meta_step.py``) always one.

``--malloc cached`` turns glibc's ``mmap`` for large blocks off and its
trimming (``mallopt``) in the measuring process(es), for every contender
alike: large tensors then reuse heap memory instead of being page-faulted
in anew for every op (what ``MALLOC_MMAP_MAX_=0
MALLOC_TRIM_THRESHOLD_=...`` in the environment, or jemalloc/tcmalloc, do
for any PyTorch program). ``--malloc keep-freed``: mmfusion's own policy
(:mod:`mmfusion.utils.malloc`, ``MMFUSION_KEEP_FREED_MEMORY=1``: blocks
below 32 MiB from the heap, up to 256 MiB of free heap kept), for every
contender alike. ``default`` leaves glibc's adaptive defaults
(``MMFUSION_KEEP_FREED_MEMORY=0`` in the children). This is a benchmark,
not a test: figures depend on the machine and its load.
"""
import argparse
import ctypes
import json
import os
import os.path as osp
import platform
import statistics
import subprocess
import sys
import time

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs/tdfusion/segformer_msrs.py')
PARTS = ('net', 'step', 'iteration')
STEP_CONTENDERS = ('released', 'mmfusion', 'mmfusion-whole-batch')
# released train.py, dataset 'MSRS': 8 classes + background, task input
RELEASED_TASK = dict(num_classes=9, size=(240, 320), lr=1e-4)
STEP_KEYS = ('seconds', 'cpu_seconds', 'peak_mb', 'peak_increase_mb')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='ReFusion / TDFusion iteration: mmfusion vs the '
        'released TDFusion code')
    parser.add_argument(
        '--official',
        required=True,
        help='checkout of the released TDFusion code (HaowenBai/TDFusion)')
    parser.add_argument(
        '--checkpoint',
        help='released ReFusion weights (e.g. models/TDFusion_MSRS.pth); '
        'default: a seeded random init of the released net')
    parser.add_argument('--parts', nargs='+', choices=PARTS, default=['net'])
    parser.add_argument(
        '--device', default='cpu', help="'cpu' (default) or 'cuda[:i]'")
    parser.add_argument(
        '--threads',
        type=int,
        default=1,
        help='torch.set_num_threads (default 1; CPU time is measured with '
        '1 thread only)')
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument(
        '--shape', type=int, nargs=2, default=[480, 640], metavar=('H', 'W'))
    parser.add_argument(
        '--crop', type=int, nargs=2, default=[256, 256], metavar=('H', 'W'))
    parser.add_argument(
        '--no-compile',
        action='store_true',
        help='no torch.compile contender (its first call compiles: ~1 '
        'min on a small CPU)')
    parser.add_argument(
        '--malloc',
        choices=['default', 'cached', 'keep-freed'],
        default='default')
    parser.add_argument(
        '--steps',
        type=int,
        default=6,
        help="'step': optimizer steps per child (the first is not counted)")
    parser.add_argument(
        '--iters',
        type=int,
        default=2,
        help="'step', 'iteration': rounds (fresh child per contender and "
        'round)')
    parser.add_argument(
        '--data-root', default=osp.join(REPO, 'data/msrs_demo'))
    parser.add_argument('--out', help='also write the results as JSON')
    parser.add_argument(
        '--released-worker', action='store_true', help=argparse.SUPPRESS)
    parser.add_argument(
        '--step-worker', choices=STEP_CONTENDERS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name in ('rounds', 'threads', 'iters'):
        if getattr(args, name) < 1:
            parser.error(f'--{name} must be >= 1')
    if 'step' in args.parts and args.steps < 2:
        parser.error('--steps must be >= 2 (the first step is not counted)')
    if args.warmup < 0:
        parser.error('--warmup must be >= 0')
    if not args.device.startswith(('cpu', 'cuda')):
        parser.error(f"--device must be 'cpu' or 'cuda[:i]', got "
                     f'{args.device!r}')
    ref = osp.join(args.official, 'nets', 'ReFusion.py')
    if not osp.isfile(ref):
        parser.error(f'--official {args.official}: no nets/ReFusion.py '
                     'there (expected a checkout of HaowenBai/TDFusion)')
    if 'iteration' in args.parts:
        missing = [
            f for f in ('nets/Segformer.py', 'nets/backbone_SS.py', 'utils.py')
            if not osp.isfile(osp.join(args.official, f))
        ]
        if missing:
            parser.error(f'--official {args.official}: the iteration needs '
                         f'{", ".join(missing)}')
    if args.checkpoint and not osp.isfile(args.checkpoint):
        parser.error(f'--checkpoint {args.checkpoint}: no such file')
    return args


# ------------------------------------------------------------- environment
def use_cached_malloc():
    """glibc: no mmap for large blocks, no trimming (process-wide)."""
    libc = ctypes.CDLL('libc.so.6')
    libc.mallopt(-4, 0)  # M_MMAP_MAX
    libc.mallopt(-1, 2**31 - 1)  # M_TRIM_THRESHOLD


def set_malloc(policy: str) -> None:
    """The allocator policy (``--malloc``) of a process that measures;
    children get theirs through :func:`_child_env`."""
    from mmfusion.utils.malloc import keep_freed_memory
    if policy == 'cached':
        use_cached_malloc()
    elif policy == 'keep-freed':
        keep_freed_memory(force=True)


def cpu_info() -> dict:
    model, flags = platform.processor() or platform.machine(), []
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name') and model:
                    model = line.split(':', 1)[1].strip()
                elif line.startswith('flags'):
                    flags = line.split(':', 1)[1].split()
                    break
    except OSError:
        pass
    keep = sorted(f for f in flags if f.startswith(('avx512', 'amx')))
    return dict(model=model, flags=keep, cores=os.cpu_count())


def import_released(official: str):
    """The released code's modules, imported from its checkout."""
    if official not in sys.path:
        sys.path.insert(0, osp.abspath(official))
    try:
        from nets import ReFusion
    except ModuleNotFoundError as e:
        if e.name != 'einops':
            raise
        raise SystemExit('the released nets/ReFusion.py needs einops '
                         '(pip install einops)') from e
    return ReFusion


def released_utils():
    """The released ``utils.py`` (losses, inner/outer updates). It imports
    ``skimage.io.imsave`` for saving images, which the loop does not use:
    without scikit-image an empty stand-in module is registered."""
    try:
        import skimage.io  # noqa: F401
    except ImportError:
        import types
        sk = types.ModuleType('skimage')
        sk.io = types.ModuleType('skimage.io')
        sk.io.imsave = None
        sys.modules.setdefault('skimage', sk)
        sys.modules.setdefault('skimage.io', sk.io)
    import utils
    return utils


# --------------------------------------------------------------------- net
def build_nets(args, device):
    import torch

    from mmfusion.models import ReFusionNet
    from mmfusion.models.utils.ckpt_convert import (load_source_checkpoint,
                                                    tdfusion_convert)
    mod = import_released(args.official)
    torch.manual_seed(0)
    released = mod.ReFusion()
    if args.checkpoint:
        released.load_state_dict(load_source_checkpoint(args.checkpoint))
    state = tdfusion_convert(released.state_dict(), source='released net')
    nets = dict(released=released)
    for name, fast in (('mmfusion', True), ('mmfusion-plain', False)):
        net = ReFusionNet(fast=fast)
        net.load_state_dict(state)
        nets[name] = net
    for net in nets.values():
        net.to(device).train()
    # mmfusion parameter name -> released parameter name (for gradients)
    names = {}
    for k, v in released.named_parameters():
        conv = tdfusion_convert({k: v}, source='released net')
        names[next(iter(conv))] = k
    return nets, names


def _call(name, net, x, y):
    import torch
    if name == 'released':
        return net(torch.cat([x, y], 1))
    return net(x, y)


def _clocks(device):
    import torch
    cpu_clock = device.type == 'cpu' and torch.get_num_threads() == 1

    def sync():
        if device.type == 'cuda':
            torch.cuda.synchronize(device)

    def measure(fn):
        sync()
        w0 = time.perf_counter()
        c0 = time.thread_time() if cpu_clock else None
        out = fn()
        sync()
        wall = time.perf_counter() - w0
        cpu = time.thread_time() - c0 if cpu_clock else None
        return out, wall, cpu

    return measure, cpu_clock


def bench_net(args, device) -> dict:
    import torch
    nets, names = build_nets(args, device)
    measure, cpu_clock = _clocks(device)
    g = torch.Generator().manual_seed(0)
    h, w = args.shape
    pair = [torch.rand(1, 1, h, w, generator=g).to(device) for _ in range(2)]
    ch, cw = args.crop
    a, b = [torch.rand(1, 1, ch, cw, generator=g).to(device) for _ in '12']
    crops = (torch.cat([a, b]), torch.cat([b, a]))  # pair + swapped copy
    cuda = device.type == 'cuda'

    from mmfusion.models import ReFusionNet
    fwd = {k: (k, v, None) for k, v in nets.items()}
    untiled = ReFusionNet(tile_pixels=0).to(device)
    untiled.load_state_dict(nets['mmfusion'].state_dict())
    fwd['mmfusion-untiled'] = ('mmfusion', untiled, None)
    if not args.no_compile:
        comp = ReFusionNet(compile_inference=True, tile_pixels=0).to(device)
        comp.load_state_dict(nets['mmfusion'].state_dict())
        fwd['mmfusion-compiled'] = ('mmfusion', comp, None)
    if cuda:
        fwd['released-fp16'] = ('released', nets['released'], torch.float16)
        fwd['mmfusion-fp16'] = ('mmfusion', nets['mmfusion'], torch.float16)

    def forward(key):
        kind, net, dtype = fwd[key]
        with torch.no_grad(), torch.autocast(
                device.type,
                dtype=dtype or torch.float16,
                enabled=dtype is not None):
            return _call(kind, net, *pair).float()

    def train(key):
        net = nets[key]
        net.zero_grad(set_to_none=True)
        out = _call(key, net, *crops)
        out.square().mean().backward()
        return out.detach()

    results = {}
    for part, fn, keys in (('forward', forward, list(fwd)),
                           ('forward+backward', train, list(nets))):
        first, outs = {}, {}
        for key in keys:  # first call (compiles, if any), then warm-up
            out, wall, _ = measure(lambda: fn(key))
            first[key], outs[key] = wall, out
            for _ in range(args.warmup):
                fn(key)
        walls = {k: [] for k in keys}
        cpus = {k: [] for k in keys}
        loads = [os.getloadavg()[0]]
        for _ in range(args.rounds):
            for key in keys:
                _, wall, cpu = measure(lambda: fn(key))
                walls[key].append(wall)
                cpus[key].append(cpu)
            loads.append(os.getloadavg()[0])
        ref = outs['released']
        rows = {}
        for key in keys:
            row = dict(
                wall_s=statistics.median(walls[key]),
                all_wall_s=walls[key],
                first_call_s=first[key],
                max_abs_diff=float((outs[key] - ref).abs().max()))
            if cpu_clock:
                row.update(
                    cpu_s=statistics.median(cpus[key]), all_cpu_s=cpus[key])
            rows[key] = row
        for key, row in rows.items():
            row['speedup_wall'] = rows['released']['wall_s'] / row['wall_s']
            if cpu_clock:
                row['speedup_cpu'] = rows['released']['cpu_s'] / row['cpu_s']
        if part == 'forward+backward':
            grads = {n: p.grad for n, p in nets['released'].named_parameters()}
            for key in ('mmfusion', 'mmfusion-plain'):
                rows[key]['max_abs_grad_diff'] = max(
                    float((p.grad - grads[names[n]]).abs().max())
                    for n, p in nets[key].named_parameters())
        results[part] = dict(
            input=[1, 1, h, w] if part == 'forward' else [2, 1, ch, cw],
            load_1min=[round(x, 2) for x in loads],
            contenders=rows)
    return results


# --------------------------------------------------------------- iteration
def _released_batch(args, device):
    """One MSRS pair as the released loader gives it: IR (gray) and VIS Y in
    [0, 1], full size, and its label map; the first pair of
    ``--data-root``'s train split, else random tensors of the MSRS size."""
    import cv2
    import numpy as np
    import torch
    root = args.data_root
    names = sorted(os.listdir(osp.join(root, 'train/ir'))) \
        if osp.isdir(osp.join(root, 'train/ir')) else []
    if names:
        n = names[0]
        ir = cv2.imread(osp.join(root, 'train/ir', n), cv2.IMREAD_GRAYSCALE)
        vi = cv2.imread(osp.join(root, 'train/vi', n))
        y = cv2.cvtColor(vi, cv2.COLOR_BGR2YCrCb)[..., 0]
        lab = cv2.imread(
            osp.join(root, 'train/Segmentation_labels', n),
            cv2.IMREAD_GRAYSCALE)
        ir, y = (
            torch.from_numpy(x.astype(np.float32) / 255.)[None, None]
            for x in (ir, y))
        lab = torch.from_numpy(lab.astype(np.int64))[None]
    else:
        g = torch.Generator().manual_seed(0)
        ir, y = (torch.rand(1, 1, 480, 640, generator=g) for _ in '12')
        lab = torch.randint(0, 9, (1, 480, 640), generator=g)
    return ir.to(device), y.to(device), lab.to(device)


def released_iteration(args) -> dict:
    """Child process: the released loop's body (train.py, MSRS settings),
    ``--warmup`` unmeasured + ``--iters`` measured times: the meta step
    (inner and outer pass) and one 'learning of F and T' pass."""
    import random
    import tempfile

    import torch
    import torch.nn.functional as F
    if args.threads:
        torch.set_num_threads(args.threads)
    sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
    from benchmark_meta_step import Memory

    refusion = import_released(args.official)
    utils = released_utils()
    from nets.Segformer import SegFormer
    device = torch.device(args.device)
    torch.manual_seed(0)
    random.seed(0)
    fusion = refusion.ReFusion().to(device)
    task = SegFormer(RELEASED_TASK['num_classes']).to(device)
    loss_model = torch.nn.DataParallel(refusion.LPN()).to(device)
    lr = RELEASED_TASK['lr']
    opt1 = torch.optim.Adam(fusion.parameters(), lr=lr, weight_decay=0)
    opt2 = torch.optim.Adam(task.parameters(), lr=lr, weight_decay=0)
    opt3 = torch.optim.Adam(
        loss_model.parameters(), lr=lr, weight_decay=0, eps=1e-10)
    for m in (fusion, task, loss_model):
        m.train()
    ir_ori, vis_ori, mask_ori = _released_batch(args, device)
    rh, rw = RELEASED_TASK['size']
    ch, cw = args.crop
    interim = osp.join(tempfile.mkdtemp(), 'interim_sta_DS.pth')
    memory = Memory(str(device))

    def views():
        H, W = ir_ori.shape[2:]
        h = int((H - ch) * random.random())
        w = int((W - cw) * random.random())
        ir_c = ir_ori[:, :, h:h + ch, w:w + cw]
        vis_c = vis_ori[:, :, h:h + ch, w:w + cw]
        ir_r = F.interpolate(ir_ori, size=(rh, rw), mode='bilinear')
        vis_r = F.interpolate(vis_ori, size=(rh, rw), mode='bilinear')
        # Switch = 1: the pair and its modality-swapped copy
        return (torch.cat((ir_c, vis_c), 0), torch.cat(
            (vis_c, ir_c), 0), torch.cat(
                (ir_r, vis_r), 0), torch.cat(
                    (vis_r, ir_r), 0), torch.cat((mask_ori, mask_ori), 0))

    def fusion_loss(fused, ir, vis, w):
        return (utils.Fusionloss_int(fused, ir, vis, w[:, 0:1], w[:, 1:2]) +
                utils.Fusionloss_grad(fused, ir, vis))

    def meta_step():
        # inner pass (i even)
        ir_c, vis_c, ir_r, vis_r, mask = views()
        torch.save(task.state_dict(), interim)
        opt1.zero_grad()
        opt2.zero_grad()
        opt3.zero_grad()
        fused = fusion(torch.cat((ir_c, vis_c), 1))
        w = loss_model(torch.cat((ir_c, vis_c), 1))
        f_loss = fusion_loss(fused, ir_c, vis_c, w)
        f_loss.backward(create_graph=True, retain_graph=True)
        utils.inner_update(fusion, lr)
        w = loss_model(torch.cat((ir_r, vis_r), 1)).detach()
        fused = fusion(torch.cat((ir_r, vis_r), 1)).detach()
        t_loss = utils.CE_Loss(task(fused), mask)
        t_loss.backward()
        opt2.step()
        # outer pass (i odd), on the next batch
        _, _, ir_r, vis_r, mask = views()
        opt3.zero_grad()
        fused = fusion(torch.cat((ir_r, vis_r), 1), meta=True)
        t_loss = utils.CE_Loss(task(fused), mask)
        t_loss.backward()
        utils.outer_update(loss_model, lr)
        task.load_state_dict(torch.load(interim))
        return f_loss.item(), t_loss.item()

    def fusion_task_step():
        ir_c, vis_c, ir_r, vis_r, mask = views()
        opt1.zero_grad()
        fused = fusion(torch.cat((ir_c, vis_c), 1))
        w = loss_model(torch.cat((ir_c, vis_c), 1)).detach()
        f_loss = fusion_loss(fused, ir_c, vis_c, w)
        f_loss.backward()
        opt1.step()
        opt2.zero_grad()
        w = loss_model(torch.cat((ir_r, vis_r), 1)).detach()
        fused = fusion(torch.cat((ir_r, vis_r), 1)).detach()
        t_loss = utils.CE_Loss(task(fused), mask)
        t_loss.backward()
        opt2.step()
        return f_loss.item(), t_loss.item()

    steps = {}
    for i in range(args.warmup + args.iters):
        for name, fn in (('meta', meta_step), ('fusion', fusion_task_step)):
            memory.release()
            memory.sync()
            base = memory.current()
            memory.reset_peak()
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            memory.sync()
            seconds = time.perf_counter() - t0
            if i >= args.warmup:
                steps.setdefault(name, []).append(
                    dict(
                        seconds=seconds,
                        cpu_seconds=time.process_time() - c0,
                        peak_mb=memory.peak(),
                        peak_increase_mb=memory.peak() - base))
    return _summary(steps, memory.kind)


def _summary(steps: dict, mem_kind: str) -> dict:
    out = dict(mem_kind=mem_kind)
    for name, runs in steps.items():
        out[name] = {
            k: statistics.median(r[k] for r in runs)
            for k in STEP_KEYS
        }
    out['iteration'] = dict(
        seconds=sum(out[n]['seconds'] for n in steps),
        cpu_seconds=sum(out[n]['cpu_seconds'] for n in steps),
        peak_mb=max(out[n]['peak_mb'] for n in steps),
        peak_increase_mb=max(out[n]['peak_increase_mb'] for n in steps))
    return out


def _child_env(args):
    from mmfusion.utils.malloc import ENV, MMAP_THRESHOLD, TRIM_THRESHOLD
    env = dict(os.environ, PYTHONWARNINGS='ignore')
    env[ENV] = '1' if args.malloc == 'keep-freed' else '0'
    if args.malloc == 'keep-freed':  # (also for children that never call
        # keep_freed_memory, e.g. benchmark_meta_step.py's worker)
        env.update(
            MALLOC_TRIM_THRESHOLD_=str(TRIM_THRESHOLD),
            MALLOC_MMAP_THRESHOLD_=str(MMAP_THRESHOLD))
    if args.malloc == 'cached':
        env.update(MALLOC_MMAP_MAX_='0', MALLOC_TRIM_THRESHOLD_='2147483647')
    return env


def _run_child(cmd: list, args, what: str) -> dict:
    """Run a worker process with the ``--malloc`` environment; its result is
    the JSON of its last ``RESULT`` line."""
    out = subprocess.run(
        cmd, capture_output=True, text=True, env=_child_env(args))
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith('RESULT ')]
    if out.returncode or not lines:
        raise RuntimeError(f'{what} exited with {out.returncode}:\n'
                           f'{out.stderr[-3000:]}')
    return json.loads(lines[-1][len('RESULT '):])


def run_released_child(args) -> dict:
    cmd = [sys.executable, osp.abspath(__file__)] + _forward_argv(args) + \
        ['--released-worker']
    return _run_child(cmd, args, 'released worker')


def run_mmfusion_child(args) -> dict:
    """mmfusion's meta step (default hypergradient) + fusion/task step,
    by ``benchmark_meta_step.py``'s worker (its own fresh process)."""
    cmd = [
        sys.executable,
        osp.join(osp.dirname(osp.abspath(__file__)), 'benchmark_meta_step.py'),
        CONFIG, '--crop', *map(str, args.crop), '--task-size',
        *map(str, RELEASED_TASK['size']), '--iters',
        str(args.iters), '--threads',
        str(args.threads), '--device', args.device, '--data-root',
        args.data_root, '--worker'
    ]
    res = _run_child(cmd, args, 'mmfusion worker')['results']
    steps = dict(meta=res['jvp'], fusion=res['fusion'])
    out = dict(mem_kind='')
    for name, r in steps.items():
        out[name] = {k: r[k] for k in STEP_KEYS}
    out['iteration'] = dict(
        seconds=sum(out[n]['seconds'] for n in steps),
        cpu_seconds=sum(out[n]['cpu_seconds'] for n in steps),
        peak_mb=max(out[n]['peak_mb'] for n in steps),
        peak_increase_mb=max(out[n]['peak_increase_mb'] for n in steps))
    return out


def _forward_argv(args) -> list:
    argv = [
        '--official', args.official, '--device', args.device, '--threads',
        str(args.threads), '--iters', '1', '--warmup',
        str(args.warmup), '--crop', *map(str, args.crop), '--data-root',
        args.data_root, '--parts', 'iteration'
    ]
    return argv


def bench_iteration(args) -> dict:
    """Fresh child per contender and round, alternating the order."""
    runs = dict(released=[], mmfusion=[])
    loads = [os.getloadavg()[0]]
    order = ['released', 'mmfusion']
    sub = argparse.Namespace(**vars(args))
    sub.iters = 1
    for i in range(args.iters):
        for who in (order if i % 2 == 0 else order[::-1]):
            fn = run_released_child if who == 'released' else \
                run_mmfusion_child
            runs[who].append(fn(sub))
            loads.append(os.getloadavg()[0])
    out = dict(load_1min=[round(x, 2) for x in loads])
    for who, rs in runs.items():
        out[who] = {
            step: {
                k: statistics.median(r[step][k] for r in rs)
                for k in STEP_KEYS
            }
            for step in ('meta', 'fusion', 'iteration')
        }
    rel, mm = out['released']['iteration'], out['mmfusion']['iteration']
    out['ratio'] = dict(
        time=mm['seconds'] / rel['seconds'],
        cpu_time=mm['cpu_seconds'] / rel['cpu_seconds'],
        peak_mb=mm['peak_mb'] / rel['peak_mb'],
        peak_increase_mb=mm['peak_increase_mb'] / rel['peak_increase_mb'])
    return out


# -------------------------------------------------------------------- step
def step_worker(args) -> dict:
    """``--steps`` training steps of one contender in this (fresh) process:
    Adam on the crop batch (a pair and its modality-swapped copy), loss
    ``mean(fused^2)``; CPU time and minor page faults of each step."""
    import resource

    import torch
    device = torch.device(args.device)
    nets, _ = build_nets(args, device)
    who = args.step_worker
    if who == 'mmfusion-whole-batch':
        net = nets['mmfusion']
        net.batch_chunk_bytes = 0
        who = 'mmfusion'
    else:
        net = nets[who]
    for k in [k for k in nets if nets[k] is not net]:
        del nets[k]  # (only the contender's memory in this process)
    measure, _ = _clocks(device)
    g = torch.Generator().manual_seed(0)
    ch, cw = args.crop
    a, b = [torch.rand(1, 1, ch, cw, generator=g).to(device) for _ in '12']
    crops = (torch.cat([a, b]), torch.cat([b, a]))
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)

    def step():
        opt.zero_grad(set_to_none=True)
        _call(who, net, *crops).square().mean().backward()
        opt.step()

    steps = []
    for _ in range(args.steps):
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        _, wall, cpu = measure(step)
        steps.append(
            dict(
                wall_s=wall,
                cpu_s=cpu,
                faults=resource.getrusage(resource.RUSAGE_SELF).ru_minflt -
                faults))
    from mmfusion.utils.malloc import keep_freed_memory
    return dict(
        steps=steps, malloc=args.malloc,
        keep_freed=keep_freed_memory())  # (what is in effect here)


def bench_step(args) -> dict:
    """Fresh child per contender and round, in rotating order: steps 2..N
    of each child counted (the first allocates everything anew)."""
    runs = {k: [] for k in STEP_CONTENDERS}
    policy = {}
    loads = [os.getloadavg()[0]]
    argv = [
        '--official', args.official, '--device', args.device, '--threads',
        str(args.threads), '--crop', *map(str, args.crop), '--steps',
        str(args.steps)
    ] + (['--checkpoint', args.checkpoint] if args.checkpoint else [])
    for i in range(args.iters):
        k = i % len(STEP_CONTENDERS)
        for who in STEP_CONTENDERS[k:] + STEP_CONTENDERS[:k]:
            result = _run_child(
                [sys.executable, osp.abspath(__file__)] + argv +
                ['--malloc', args.malloc, '--step-worker', who], args,
                f'step worker {who}')
            runs[who] += result['steps'][1:]
            policy[who] = (result['malloc'], result['keep_freed'])
            loads.append(os.getloadavg()[0])
    res = dict(load_1min=[round(x, 2) for x in loads], contenders={})
    for who, steps in runs.items():
        row = {
            k: statistics.median(s[k] for s in steps)
            for k in ('wall_s', 'cpu_s', 'faults') if steps[0][k] is not None
        }
        row.update(
            n=len(steps), malloc=policy[who][0], keep_freed=policy[who][1])
        res['contenders'][who] = row
    ref = res['contenders']['released']
    for row in res['contenders'].values():
        for k in ('cpu_s', 'wall_s'):
            if k in row:
                row[f'speedup_{k[:-2]}'] = ref[k] / row[k]
    return res


# ------------------------------------------------------------------ report
def report(res: dict) -> str:
    cpu = res['cpu']
    lines = [
        f"device {res['device']}; CPU {cpu['model']} ({cpu['cores']} "
        f"cores; {' '.join(cpu['flags']) or 'no AVX-512/AMX'}); "
        f"{res['threads']} thread(s); malloc {res['malloc']}; torch "
        f"{res['torch']}"
    ]
    for part, r in res.get('net', {}).items():
        lines += [
            '', f"{part}, input {'x'.join(map(str, r['input']))}, median of "
            f"{res['rounds']} interleaved rounds, 1-min load "
            f"{min(r['load_1min']):.2f}-{max(r['load_1min']):.2f}:",
            '| contender | CPU s | wall s | released / this (CPU) | '
            'released / this (wall) | max abs diff vs released | '
            'first call s |', '|---|---|---|---|---|---|---|'
        ]
        for k, row in r['contenders'].items():
            cpu_s = f"{row['cpu_s']:.3f}" if 'cpu_s' in row else '-'
            sp_c = f"{row['speedup_cpu']:.2f}x" if 'speedup_cpu' in row \
                else '-'
            diff = f"{row['max_abs_diff']:.1e}"
            if 'max_abs_grad_diff' in row:
                diff += f" (grads {row['max_abs_grad_diff']:.1e})"
            lines.append(f"| {k} | {cpu_s} | {row['wall_s']:.3f} | {sp_c} | "
                         f"{row['speedup_wall']:.2f}x | {diff} | "
                         f"{row['first_call_s']:.1f} |")
    st = res.get('step')
    if st:
        lines += [
            '', f"training step (Adam, {'x'.join(map(str, res['crop']))} "
            f"crop batch of 2), steps 2-{res['steps']} of {res['iters']} "
            'fresh child(ren) per contender, medians, 1-min load '
            f"{min(st['load_1min']):.2f}-{max(st['load_1min']):.2f}:",
            '| contender | malloc | CPU s | wall s | released / this (CPU) | '
            'minor page faults |', '|---|---|---|---|---|---|'
        ]
        for k, row in st['contenders'].items():
            cpu_s = f"{row['cpu_s']:.3f}" if 'cpu_s' in row else '-'
            sp = f"{row['speedup_cpu']:.2f}x" if 'speedup_cpu' in row else \
                f"{row['speedup_wall']:.2f}x (wall)"
            lines.append(f"| {k} | {row['malloc']} | {cpu_s} | "
                         f"{row['wall_s']:.3f} | {sp} | {row['faults']:.0f} |")
    it = res.get('iteration')
    if it:
        lines += [
            '', 'TDFusion training iteration (meta step + fusion/task step), '
            f"median of {res['iters']} rounds, fresh child each, 1-min load "
            f"{min(it['load_1min']):.2f}-{max(it['load_1min']):.2f}:",
            '| contender | step | CPU s | wall s | peak MB | peak increase MB '
            '|', '|---|---|---|---|---|---|'
        ]
        for who in ('released', 'mmfusion'):
            for step in ('meta', 'fusion', 'iteration'):
                r = it[who][step]
                lines.append(f"| {who} | {step} | {r['cpu_seconds']:.2f} | "
                             f"{r['seconds']:.2f} | "
                             f"{r['peak_mb']:.0f} | "
                             f"{r['peak_increase_mb']:.0f} |")
        ra = it['ratio']
        lines.append(f"mmfusion / released: CPU time {ra['cpu_time']:.2f}, "
                     f"wall {ra['time']:.2f}, peak RSS "
                     f"{ra['peak_mb']:.2f}, peak increase "
                     f"{ra['peak_increase_mb']:.2f}")
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    if args.step_worker or args.released_worker or 'net' in args.parts:
        set_malloc(args.malloc)  # (the step and iteration parts measure
        # in children, which get the policy through their environment)
    import torch
    torch.set_num_threads(args.threads)
    if args.released_worker:
        print('RESULT ' + json.dumps(released_iteration(args)), flush=True)
        return
    if args.step_worker:
        print('RESULT ' + json.dumps(step_worker(args)), flush=True)
        return
    device = torch.device(args.device)
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('--device cuda: CUDA is not available here')
    import mmfusion  # noqa: F401  (compatibility patches)
    res = dict(
        device=(torch.cuda.get_device_name(device)
                if device.type == 'cuda' else 'cpu'),
        cpu=cpu_info(),
        threads=torch.get_num_threads(),
        malloc=args.malloc,
        torch=torch.__version__,
        rounds=args.rounds,
        iters=args.iters,
        steps=args.steps,
        crop=args.crop,
        official=osp.abspath(args.official),
        checkpoint=args.checkpoint)
    if 'net' in args.parts:
        res['net'] = bench_net(args, device)
        print(report(res), flush=True)
    if 'step' in args.parts:
        res['step'] = bench_step(args)
        print(report(dict(res, net={})), flush=True)
    if 'iteration' in args.parts:
        res['iteration'] = bench_iteration(args)
        print(report(dict(res, net={}, step=None)), flush=True)
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(res, f, indent=1)
    return res


if __name__ == '__main__':
    main()
