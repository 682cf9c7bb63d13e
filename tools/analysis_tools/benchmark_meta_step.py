# Copyright (c) mmfusion contributors. All rights reserved.
"""Time and peak memory of one TDFusion meta step vs one plain fusion step.

    python tools/analysis_tools/benchmark_meta_step.py \
        [CONFIG] [--crop 256 256] [--task-size 240 320] [--iters 3]

Defaults: ``configs/tdfusion/segformer_msrs.py`` (ReFusion net, loss
generator, SegFormer-B0 in-loop task on the 1-channel fused Y), the published
sizes (256x256 fusion crops, 240x320 task input, one pair per batch doubled
by the modality swap), real pairs from ``data/msrs_demo``. Each measurement
runs in a fresh process, so the reported peak (CUDA: max allocated; CPU: peak
resident set size of the process, which includes ~0.5-1 GB of libraries) is
that step's alone.
"""
import argparse
import json
import os
import os.path as osp
import resource
import subprocess
import sys
import time

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        'config', nargs='?',
        default=osp.join(REPO, 'configs/tdfusion/segformer_msrs.py'))
    parser.add_argument('--crop', type=int, nargs=2, default=[256, 256])
    parser.add_argument('--task-size', type=int, nargs=2, default=[240, 320])
    parser.add_argument('--iters', type=int, default=3)
    parser.add_argument('--data-root', default=osp.join(REPO,
                                                        'data/msrs_demo'))
    parser.add_argument('--device', default=None)
    parser.add_argument('--phase', choices=['meta', 'fusion'],
                        help=argparse.SUPPRESS)  # internal: one measurement
    return parser.parse_args()


def measure(args) -> dict:
    import torch
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.logging import MessageHub
    from mmengine.registry import init_default_scope

    import mmfusion  # noqa: F401
    from mmfusion.registry import (DATASETS, MODELS,
                                   OPTIM_WRAPPER_CONSTRUCTORS)

    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    init_default_scope('mmfusion')
    cfg = Config.fromfile(args.config)
    cfg.model.fusion_crop_size = tuple(args.crop)
    cfg.model.task_input_size = tuple(args.task_size)
    model = MODELS.build(cfg.model).to(device).train()
    ow_cfg = dict(cfg.optim_wrapper)
    constructor = ow_cfg.pop('constructor')
    ow = OPTIM_WRAPPER_CONSTRUCTORS.build(
        dict(type=constructor, optim_wrapper_cfg=ow_cfg))(model)
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
        for i in range(2 * args.iters + 2)
    ]
    hub = MessageHub.get_current_instance()
    hub.update_info('phase', args.phase)

    def step(i):
        hub.update_info('iter', i)
        if args.phase == 'meta':
            model.train_step([batches[2 * i], batches[2 * i + 1]], ow)
        else:
            model.train_step(batches[i], ow)

    step(0)  # warm-up (allocator, kernels)
    if device.startswith('cuda'):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    times = []
    for i in range(1, args.iters + 1):
        t0 = time.perf_counter()
        step(i)
        if device.startswith('cuda'):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    if device.startswith('cuda'):
        peak_mb = torch.cuda.max_memory_allocated() / 2**20
        mem_kind = 'CUDA max allocated'
    else:
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        mem_kind = 'CPU peak RSS'
    return dict(
        phase=args.phase,
        seconds=sorted(times)[len(times) // 2],
        peak_mb=peak_mb,
        mem_kind=mem_kind,
        device=device,
        threads=torch.get_num_threads(),
        batch=bs * (2 if cfg.model.get('swap_modalities') else 1))


def main():
    args = parse_args()
    if args.phase:
        print(json.dumps(measure(args)))
        return
    results = []
    for phase in ('fusion', 'meta'):
        cmd = [sys.executable, __file__, args.config, '--phase', phase,
               '--crop', *map(str, args.crop), '--task-size',
               *map(str, args.task_size), '--iters', str(args.iters),
               '--data-root', args.data_root]
        if args.device:
            cmd += ['--device', args.device]
        out = subprocess.run(cmd, capture_output=True, text=True,
                             env=dict(os.environ, PYTHONWARNINGS='ignore'))
        if out.returncode != 0:
            sys.exit(out.stdout + out.stderr)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    fusion, meta = results
    print(f'config: {args.config}')
    print(f'fusion crop {args.crop[0]}x{args.crop[1]}, task input '
          f'{args.task_size[0]}x{args.task_size[1]}, batch {meta["batch"]} '
          f'(pairs incl. modality swap), device {meta["device"]}, '
          f'{meta["threads"]} threads, median of {args.iters}')
    print(f'{"step":<28}{"s/step":>10}{"peak MB":>12}  ({meta["mem_kind"]})')
    print(f'{"fusion + task (phase B)":<28}{fusion["seconds"]:>10.3f}'
          f'{fusion["peak_mb"]:>12.0f}')
    print(f'{"meta step (phase A)":<28}{meta["seconds"]:>10.3f}'
          f'{meta["peak_mb"]:>12.0f}')
    print(f'meta / fusion time: {meta["seconds"] / fusion["seconds"]:.1f}x')


if __name__ == '__main__':
    main()
