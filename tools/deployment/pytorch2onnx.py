# Copyright (c) mmfusion contributors. All rights reserved.
"""Export the fusion net of a config/checkpoint to ONNX and check it.

    python tools/deployment/pytorch2onnx.py CONFIG CKPT \\
        --out fusion_net.onnx [--shape 480 640] [--atol 1e-5]

The exported graph is the fusion net alone, ``(ir, vis_y) -> fused_y``, all
``(N, 1, H, W)`` float32 in [0, 1], with dynamic batch, height and width;
colour restoration and output normalisation stay in Python (as
``tools/fuse.py --backend onnxruntime`` runs it). The export is then run by
ONNX Runtime on a random pair of ``--shape`` and compared with PyTorch: the
largest absolute difference is printed, and the tool fails above ``--atol``.
"""
import argparse
import sys

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import mmfusion  # noqa: F401
from mmfusion.apis.inference_backends import ORTFusionNet, export_onnx
from mmfusion.registry import MODELS
from mmfusion.utils.checkpoint import load_model_checkpoint


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Export the fusion net of a model to ONNX')
    parser.add_argument('config', help='model config file')
    parser.add_argument('checkpoint', nargs='?', help='checkpoint file')
    parser.add_argument('--out', required=True, help='ONNX file to write')
    parser.add_argument(
        '--shape',
        type=int,
        nargs=2,
        default=[480, 640],
        metavar=('H', 'W'),
        help='size of the equality check')
    parser.add_argument('--atol', type=float, default=1e-5)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    init_default_scope(cfg.get('default_scope', 'mmfusion'))
    model = MODELS.build(cfg.model)
    if args.checkpoint:
        load_model_checkpoint(model, args.checkpoint, map_location='cpu')
    net = model.fusion_net.eval()
    export_onnx(net, args.out)
    gen = torch.Generator().manual_seed(0)
    ir, vis_y = (
        torch.rand(1, 1, *args.shape, generator=gen) for _ in range(2))
    with torch.no_grad():
        ref = net(ir, vis_y)
    diff = (ORTFusionNet(args.out)(ir, vis_y) - ref).abs().max().item()
    ok = diff <= args.atol
    print(f'{type(net).__name__} -> {args.out}; ONNX Runtime vs PyTorch at '
          f'{args.shape[1]}x{args.shape[0]}: max abs diff {diff:.3g} '
          f'({"ok" if ok else "FAIL"}, atol {args.atol})')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
