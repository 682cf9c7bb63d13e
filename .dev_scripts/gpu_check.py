# Copyright (c) mmfusion contributors. All rights reserved.
"""One GPU check of the project: run it on a machine with a CUDA GPU.

    python .dev_scripts/gpu_check.py [--out work_dirs/gpu_check] [--iters 4]

1. mmcv's CUDA ops: the build's CUDA version, and nms / RoIAlign /
   deformable conv on the GPU against the CPU results.
2. Training: a few iterations of each demo config (TDFusion, BDLFusion,
   SeAFusion) through ``tools/train.py``, with and without ``--amp``
   (float16), seconds per iteration.
3. The NaN probe of issue 14: the fusion learning rate forced to 1e30: the
   run must stop with ``FloatingPointError`` and every checkpoint it wrote
   must hold only finite tensors.
4. Inference speed of the three fusion nets at 640x480 (batch 1), eager and
   ``torch.compile``d, float32 and float16 autocast.

Without CUDA it says so and runs its CPU-capable parts at a reduced size
(ops on the CPU, training with ``--amp`` as bfloat16, the probe, eager
inference; no compile unless ``--compile``): a dry run of the script.
Results go to ``OUT/gpu_check.json`` and a markdown summary to stdout.
"""
import argparse
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEMOS = {
    'tdfusion': 'configs/tdfusion/tdfusion_demo.py',
    'bdlfusion': 'configs/bdlfusion/bdlfusion_demo.py',
    'seafusion': 'configs/seafusion/seafusion_joint_demo.py',
}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default='work_dirs/gpu_check')
    parser.add_argument(
        '--iters',
        type=int,
        default=None,
        help='training iterations per run (GPU 6, CPU 2)')
    parser.add_argument(
        '--fps-iters',
        type=int,
        default=None,
        help='timed inference iterations (GPU 100, CPU 3)')
    parser.add_argument(
        '--compile',
        action='store_true',
        help='also time torch.compile on the CPU')
    parser.add_argument(
        '--no-compile',
        action='store_true',
        help='time eager inference only (also on a GPU)')
    parser.add_argument(
        '--skip',
        nargs='*',
        default=[],
        choices=['ops', 'train', 'probe', 'fps'])
    parser.add_argument('--child', nargs=2, help=argparse.SUPPRESS)
    return parser.parse_args()


def _child(what, device):
    """Run one part of the ops check in a child process: a crash of a
    compiled op (mmcv 2.1.0 built with CUDA 13 segfaults in
    ``get_compiling_cuda_version``, seen on an H100) is reported, not fatal
    to the whole check."""
    proc = subprocess.run(
        [sys.executable,
         osp.abspath(__file__), '--child', what, device],
        cwd=REPO,
        capture_output=True,
        text=True)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode == 0 and lines:
        return json.loads(lines[-1])
    if proc.returncode < 0:
        return dict(error=f'{what}: crashed (signal {-proc.returncode})')
    return dict(error=f'{what}: exit {proc.returncode}: '
                f'{proc.stderr.strip().splitlines()[-1:]}')


def check_ops(device):
    out = _child('ops', device)
    out.update(_child('ops_build', device))
    return out


def _ops_build(device):
    from mmcv.ops import get_compiler_version, get_compiling_cuda_version
    return dict(
        compiler=get_compiler_version(),
        cuda_build=get_compiling_cuda_version())


def _ops(device):
    import torch
    from mmcv import ops
    out = {}
    g = torch.Generator().manual_seed(0)
    xy = torch.rand(200, 2, generator=g) * 100
    boxes = torch.cat([xy, xy + 5 + torch.rand(200, 2, generator=g) * 30], 1)
    scores = torch.rand(200, generator=g)
    feat = torch.rand(1, 8, 32, 32, generator=g)
    rois = torch.tensor([[0, 1., 1., 20., 20.], [0, 4., 6., 30., 25.]])
    conv = ops.DeformConv2d(8, 4, 3, padding=1)
    offset = torch.randn(1, 18, 32, 32, generator=g)
    results = {}
    for dev in ['cpu', device] if device != 'cpu' else ['cpu']:
        res = {}
        try:
            _, keep = ops.nms(boxes.to(dev), scores.to(dev), 0.5)
            res['nms'] = keep.cpu()
            res['roi_align'] = ops.roi_align(
                feat.to(dev), rois.to(dev), (7, 7), 1.0, 2, 'avg', True).cpu()
            res['deform_conv'] = conv.to(dev)(feat.to(dev),
                                              offset.to(dev)).cpu()
            conv.cpu()
        except Exception as e:  # an op missing from this build
            res['error'] = f'{type(e).__name__}: {e}'
        results[dev] = res
    for dev, res in results.items():
        out[dev] = res.get('error', 'ok')
    if device != 'cpu' and 'error' not in results[device] and \
            'error' not in results['cpu']:
        cpu, gpu = results['cpu'], results[device]
        out['nms_equal'] = bool(torch.equal(cpu['nms'], gpu['nms']))
        for k in ('roi_align', 'deform_conv'):
            out[f'{k}_max_abs_diff'] = float((cpu[k] - gpu[k]).abs().max())
    return out


def run_train(name, config, work_dir, iters, amp, extra=()):
    cmd = [
        sys.executable, 'tools/train.py', config, '--work-dir', work_dir,
        '--cfg-options', f'train_cfg.max_iters={iters}',
        'train_cfg.val_interval=100000',
        f'default_hooks.checkpoint.interval={iters}',
        'default_hooks.logger.interval=1', *extra
    ]
    if amp:
        cmd.insert(3, '--amp')
    t0 = time.time()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    wall = time.time() - t0
    log = proc.stdout + proc.stderr
    times = [
        float(line.split('time: ')[1].split()[0]) for line in log.splitlines()
        if 'Iter(train)' in line and 'time: ' in line
    ]
    last = [line for line in log.splitlines() if line.strip()][-1:] or ['']
    return dict(
        run=name,
        amp=amp,
        rc=proc.returncode,
        wall_s=round(wall, 1),
        s_per_iter=(round(sum(times[1:]) /
                          len(times[1:]), 3) if len(times) > 1 else None),
        last_line=last[0][-300:],
        log=log)


def check_train(out_dir, iters):
    rows = []
    for name, config in DEMOS.items():
        for amp in (False, True):
            work = osp.join(out_dir, f'{name}_{"amp" if amp else "fp32"}')
            row = run_train(name, config, work, iters, amp)
            log = row.pop('log')
            if row['rc'] != 0:  # what went wrong, in the report
                row['log_tail'] = log[-2500:]
            rows.append(row)
            print(
                f'  train {name:9s} amp={amp!s:5s} rc={row["rc"]} '
                f'{row["s_per_iter"]} s/iter',
                flush=True)
    return rows


def check_probe(out_dir, iters):
    import torch

    from mmfusion.utils.compat import load_checkpoint_file
    rows = []
    for name, config in DEMOS.items():
        work = osp.join(out_dir, f'probe_{name}')
        extra = [
            'optim_wrapper.fusion_net.optimizer.lr=1e30',
            'default_hooks.checkpoint.interval=1'
        ]
        n = iters
        if name == 'bdlfusion':
            extra.append('model.eta=1e30')  # the leader's lr is eta
            n = max(iters, 10)  # the leader steps every 5th iteration
        row = run_train(f'probe {name}', config, work, n, False, extra)
        bad = {}
        for path in sorted(glob.glob(osp.join(work, 'iter_*.pth'))):
            ckpt = load_checkpoint_file(path, map_location='cpu')
            n = 0
            for part in ('state_dict', 'optimizer'):
                stack = [ckpt.get(part)]
                while stack:
                    obj = stack.pop()
                    if isinstance(obj, dict):
                        stack += list(obj.values())
                    elif isinstance(obj, (list, tuple)):
                        stack += list(obj)
                    elif isinstance(obj, torch.Tensor) and \
                            obj.is_floating_point() and \
                            not torch.isfinite(obj).all():
                        n += 1
            bad[osp.basename(path)] = n
        stopped = 'FloatingPointError' in row.pop('log')
        rows.append(
            dict(
                run=name,
                rc=row['rc'],
                stopped_with_error=stopped,
                nonfinite_tensors_per_checkpoint=bad,
                ok=row['rc'] != 0 and stopped and not any(bad.values())))
        print(f'  probe {name:9s} ok={rows[-1]["ok"]} {bad}', flush=True)
    return rows


def check_fps(device, iters, compile_):
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from mmfusion.registry import MODELS
    init_default_scope('mmfusion')
    rows = []
    ir = torch.rand(1, 1, 480, 640, device=device)
    vis = torch.rand(1, 1, 480, 640, device=device)

    def sync():
        if device == 'cuda':
            torch.cuda.synchronize()

    for name, config in DEMOS.items():
        cfg = Config.fromfile(osp.join(REPO, config))
        net = MODELS.build(cfg.model.fusion_net).to(device).eval()
        modes = [('eager', net)]
        if compile_:
            modes.append(('compiled', torch.compile(net)))
        for mode, fn in modes:
            for amp in ((False, True) if device == 'cuda' else (False, )):
                with torch.no_grad(), torch.autocast(
                        device, dtype=torch.float16, enabled=amp):
                    t0 = time.time()
                    fn(ir, vis)  # warm-up (and compilation)
                    sync()
                    first = time.time() - t0
                    for _ in range(min(10, iters)):
                        fn(ir, vis)
                    sync()
                    t0 = time.time()
                    for _ in range(iters):
                        fn(ir, vis)
                    sync()
                    dt = (time.time() - t0) / iters
                rows.append(
                    dict(
                        net=type(net).__name__,
                        strategy=name,
                        mode=mode,
                        fp16=amp,
                        fps=round(1 / dt, 1),
                        ms=round(dt * 1e3, 2),
                        first_call_s=round(first, 1)))
                print(
                    f'  fps {name:9s} {mode:8s} fp16={amp!s:5s} '
                    f'{rows[-1]["fps"]} FPS',
                    flush=True)
    return rows


def main():
    args = parse_args()
    if args.child:
        what, device = args.child
        part = dict(ops=_ops, ops_build=_ops_build)[what]
        print(json.dumps(part(device)), flush=True)
        return 0
    import torch
    cuda = torch.cuda.is_available()
    device = 'cuda' if cuda else 'cpu'
    if cuda:
        print(f'CUDA device: {torch.cuda.get_device_name(0)} '
              f'(torch {torch.__version__}, CUDA {torch.version.cuda})')
    else:
        print('no CUDA device: the GPU checks cannot run here. Running the '
              'CPU-capable parts at a reduced size as a dry run (mmcv ops on '
              'the CPU, --amp as bfloat16, the NaN probe, eager inference); '
              'no figure of this run is a GPU figure.')
    iters = args.iters or (6 if cuda else 2)
    fps_iters = args.fps_iters or (100 if cuda else 3)
    out_dir = osp.abspath(args.out)
    os.makedirs(out_dir, exist_ok=True)
    report = dict(
        device=torch.cuda.get_device_name(0) if cuda else 'cpu',
        torch=torch.__version__,
        cuda=torch.version.cuda)
    os.environ.setdefault('PYTHONPATH', REPO)
    if 'ops' not in args.skip:
        print('mmcv ops:', flush=True)
        report['ops'] = check_ops(device)
        print(' ', report['ops'])
    if 'train' not in args.skip:
        print('training:', flush=True)
        report['train'] = check_train(out_dir, iters)
    if 'probe' not in args.skip:
        print('NaN probe (fusion lr 1e30):', flush=True)
        report['probe'] = check_probe(out_dir, max(iters, 4))
    if 'fps' not in args.skip:
        print('inference at 640x480:', flush=True)
        report['fps'] = check_fps(device, fps_iters, (cuda or args.compile)
                                  and not args.no_compile)
    with open(osp.join(out_dir, 'gpu_check.json'), 'w') as f:
        json.dump(report, f, indent=1)
    failed = [r for r in report.get('train', []) if r['rc'] != 0] + \
        [r for r in report.get('probe', []) if not r['ok']]
    print(f'written {osp.join(out_dir, "gpu_check.json")}; '
          f'{len(failed)} failed runs')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
