# Copyright (c) mmfusion contributors. All rights reserved.
"""How the fusion net runs at inference time: backends and precisions.

The fusion nets are small stride-1 CNNs at full resolution: on a CPU their
forward is bound by memory traffic more than by arithmetic, so the backend
matters (measured figures: ``docs/benchmarks.md``, "Fusing a folder"):

``pytorch``
    the net itself: ``fp32`` exactly as in testing (eager, or through
    ``torch.compile`` when the net is built with ``compile_inference=True``);
    ``bf16`` / ``fp16`` run it in channels-last layout under
    ``torch.autocast`` (fast on CPUs with AMX / AVX512-BF16 and on GPUs; the
    fused Y moves by under one grey level — 0.64 measured on SeAFusion — and
    up to 3 after SeAFusion's per-image min-max stretch).
``onnxruntime``
    the net exported to ONNX (:func:`export_onnx`, dynamic batch and size)
    and run by ONNX Runtime; fp32, outputs equal to PyTorch's within 1e-5
    (checked when the session is built). ``onnx``, ``onnxruntime`` and
    ``onnxscript`` (:data:`ONNX_PACKAGES`) are runtime requirements
    (``requirements/inference.txt``, installed by ``tools/install.sh``):
    ``'auto'``, the default of ``tools/fuse.py``, picks this backend.

Every backend is an ``nn.Module`` with the fusion net's ``forward(ir,
vis_y)``, so the algorithm's ``predict`` (colour, output normalisation) is
unchanged around it.
"""
import hashlib
import os
import os.path as osp
import warnings
from typing import Optional, Tuple

import torch
from torch import Tensor, nn

from mmfusion.utils.fileio import atomic_path

BACKENDS = ('auto', 'pytorch', 'onnxruntime')
PRECISIONS = ('fp32', 'bf16', 'fp16')
_DTYPES = dict(bf16=torch.bfloat16, fp16=torch.float16)

# what the ONNX Runtime backend needs: the runtime, the exporter's graph
# format, and the torch.export based exporter (ReFusionNet needs it)
ONNX_PACKAGES = ('onnx', 'onnxruntime', 'onnxscript')

__all__ = [
    'BACKENDS', 'PRECISIONS', 'ONNX_PACKAGES', 'AutocastFusionNet',
    'ORTFusionNet', 'export_onnx', 'onnxruntime_available',
    'missing_onnx_packages', 'build_inference_net', 'backend_of'
]


def onnxruntime_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def missing_onnx_packages() -> list:
    """The :data:`ONNX_PACKAGES` that cannot be found (none after
    ``tools/install.sh``); nothing is imported."""
    import importlib.util
    return [p for p in ONNX_PACKAGES if importlib.util.find_spec(p) is None]


def backend_of(net: nn.Module) -> str:
    """Which backend a module of :func:`build_inference_net` runs:
    ``'onnxruntime'`` or ``'pytorch'`` (what ``'auto'`` picked)."""
    return 'onnxruntime' if isinstance(net, ORTFusionNet) else 'pytorch'


def _ort_providers() -> list:
    import onnxruntime
    return onnxruntime.get_available_providers()


class _Traceable(nn.Module):
    """The net's plain forward (its input checks and compiled dispatch are
    Python-side and are left out of the exported graph)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, ir: Tensor, vis_y: Tensor) -> Tensor:
        fwd = getattr(type(self.net), '_forward', None)
        if fwd is not None:
            return fwd(self.net, ir, vis_y)
        return self.net(ir, vis_y)


def export_onnx(fusion_net: nn.Module,
                path: str,
                shape: Tuple[int, int] = (96, 128),
                opset: int = 17) -> str:
    """Export ``fusion_net`` (``forward(ir, vis_y) -> fused_y``, all
    ``(N, 1, H, W)``) to ONNX at ``path``, with dynamic batch, height and
    width (``shape`` is only the tracing size).

    The TorchScript-based exporter is tried first (about a second, needs only
    ``onnx``); nets it cannot express (e.g. ReFusionNet's attention reshapes)
    go through the ``torch.export`` based one (tens of seconds, needs
    ``onnxscript``)."""
    try:
        import onnx  # noqa: F401
    except ImportError as e:
        raise ImportError(
            'exporting to ONNX needs the onnx package: '
            '`pip install -r requirements/inference.txt` (or run '
            'tools/install.sh)') from e
    net = _Traceable(fusion_net).eval()
    param = next(fusion_net.parameters(), None)
    device = param.device if param is not None else torch.device('cpu')
    # batch 2: a traced batch of 1 would be specialised to 1
    ir = torch.rand(2, 1, *shape, device=device)
    vis_y = torch.rand(2, 1, *shape, device=device)
    common = dict(input_names=['ir', 'vis_y'], output_names=['fused_y'])
    with atomic_path(path) as tmp, torch.no_grad(), \
            warnings.catch_warnings():
        warnings.simplefilter('ignore')
        try:
            axes = {0: 'batch', 2: 'height', 3: 'width'}
            torch.onnx.export(
                net, (ir, vis_y),
                tmp,
                dynamic_axes=dict(ir=axes, vis_y=axes, fused_y=axes),
                opset_version=opset,
                dynamo=False,
                **common)
        except Exception as legacy_error:
            try:
                import onnxscript  # noqa: F401
            except ImportError:
                raise RuntimeError(
                    f'{type(fusion_net).__name__} needs the torch.export '
                    'based ONNX exporter (onnxscript: `pip install -r '
                    'requirements/inference.txt`); the '
                    f'TorchScript one failed: {legacy_error!r:.300}'
                ) from legacy_error
            from torch.export import Dim
            dims = {
                0: Dim('batch', max=1024),
                2: Dim('height', min=8, max=16384),
                3: Dim('width', min=8, max=16384)
            }
            torch.onnx.export(
                net, (ir, vis_y),
                tmp,
                dynamic_shapes=dict(ir=dims, vis_y=dims),
                opset_version=max(opset, 18),
                dynamo=True,
                external_data=False,
                **common)
    return path


def _cache_dir() -> str:
    return os.environ.get('MMFUSION_CACHE') or osp.join(
        osp.expanduser('~'), '.cache', 'mmfusion')


def _fingerprint(net: nn.Module) -> str:
    """Identity of a net's exported graph: class, weights, torch version and
    the module repr (settings such as TarDALGenerator's ``bn_mode`` change
    the graph, not the weights)."""
    h = hashlib.sha1(f'{type(net).__module__}.{type(net).__qualname__} '
                     f'{torch.__version__} {net!r}'.encode())
    for key, value in net.state_dict().items():
        h.update(key.encode())
        h.update(str(tuple(value.shape)).encode())
        h.update(value.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


class ORTFusionNet(nn.Module):
    """A fusion net exported to ONNX, run by ONNX Runtime (CPU, or CUDA
    when ``onnxruntime-gpu`` is installed and the device is CUDA).

    Args:
        onnx_path: the exported net (:func:`export_onnx`).
        device: where inputs come from and outputs go.
        threads: intra-op threads (default: torch's thread count).
    """

    def __init__(self,
                 onnx_path: str,
                 device: str = 'cpu',
                 threads: Optional[int] = None):
        super().__init__()
        try:
            import onnxruntime as ort
        except ImportError as e:
            raise ImportError(
                "backend='onnxruntime' needs ONNX Runtime: `pip install -r "
                "requirements/inference.txt` (or use backend='pytorch')"
            ) from e
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or torch.get_num_threads()
        opts.inter_op_num_threads = 1
        providers = ['CPUExecutionProvider']
        if str(device).startswith('cuda') and \
                'CUDAExecutionProvider' in ort.get_available_providers():
            providers.insert(0, 'CUDAExecutionProvider')
        self.onnx_path = onnx_path
        self.session = ort.InferenceSession(
            onnx_path, opts, providers=providers)
        self.device = torch.device(device)

    def forward(self, ir: Tensor, vis_y: Tensor) -> Tensor:
        feeds = dict(
            ir=ir.detach().float().contiguous().cpu().numpy(),
            vis_y=vis_y.detach().float().contiguous().cpu().numpy())
        out = self.session.run(['fused_y'], feeds)[0]
        return torch.from_numpy(out).to(ir.device)


class AutocastFusionNet(nn.Module):
    """The fusion net, optionally in channels-last layout and under
    ``torch.autocast`` (``bf16`` / ``fp16``); returns float32."""

    def __init__(self,
                 net: nn.Module,
                 precision: str = 'fp32',
                 channels_last: bool = False):
        super().__init__()
        if precision not in PRECISIONS:
            raise ValueError(f'precision must be one of {PRECISIONS}, got '
                             f'{precision!r}')
        self.net = net
        self.precision = precision
        self.channels_last = channels_last
        if channels_last:
            net.to(memory_format=torch.channels_last)

    def forward(self, ir: Tensor, vis_y: Tensor) -> Tensor:
        if self.channels_last:
            ir = ir.contiguous(memory_format=torch.channels_last)
            vis_y = vis_y.contiguous(memory_format=torch.channels_last)
        if self.precision == 'fp32':
            out = self.net(ir, vis_y)
        else:
            with torch.autocast(ir.device.type, dtype=_DTYPES[self.precision]):
                out = self.net(ir, vis_y)
        return out.float().contiguous()


def build_inference_net(fusion_net: nn.Module,
                        backend: str = 'pytorch',
                        precision: str = 'fp32',
                        device: str = 'cpu',
                        compile: Optional[bool] = None,
                        workdir: Optional[str] = None,
                        check_shape: Tuple[int, int] = (64, 80),
                        atol: float = 1e-5) -> nn.Module:
    """The module that runs ``fusion_net`` for inference.

    Args:
        backend: ``'pytorch'``, ``'onnxruntime'``, or ``'auto'``: ONNX
            Runtime for fp32 where it is installed, runs on ``device`` (a
            GPU needs its CUDA execution provider) and the net exports (the
            fastest fp32 path measured on CPU), else PyTorch.
        precision: ``'fp32'``, ``'bf16'`` or ``'fp16'`` (PyTorch backend).
        compile: PyTorch backend: force ``compile_inference`` on or off
            (default: as the config says).
        workdir: folder of exported ONNX files, one per net and weights
            (default: ``$MMFUSION_CACHE/onnx``, ``~/.cache/mmfusion/onnx``):
            a later run with the same weights reuses the export.
        check_shape, atol: the ONNX Runtime net is compared with the
            PyTorch net on a random pair of this size; a difference above
            ``atol`` raises.
    """
    if backend not in BACKENDS:
        raise ValueError(f'backend must be one of {BACKENDS}, got '
                         f'{backend!r}')
    if precision not in PRECISIONS:
        raise ValueError(f'precision must be one of {PRECISIONS}, got '
                         f'{precision!r}')
    fusion_net.eval()
    if backend == 'auto':
        # ONNX Runtime only where it runs on the net's device: a CPU-only
        # onnxruntime next to a GPU would move every pair to the CPU
        if precision == 'fp32' and onnxruntime_available() and (
                not str(device).startswith('cuda')
                or 'CUDAExecutionProvider' in _ort_providers()):
            try:
                return build_inference_net(fusion_net, 'onnxruntime',
                                           precision, device, compile, workdir,
                                           check_shape, atol)
            except (RuntimeError, ImportError) as e:
                warnings.warn(f'ONNX Runtime backend not used ({e}); the '
                              'net runs in PyTorch')
        backend = 'pytorch'
    if backend == 'pytorch':
        if compile is not None and hasattr(fusion_net, 'compile_inference'):
            fusion_net.compile_inference = compile
        # fp32 keeps the layout of training and testing, so inference gives
        # exactly the images validation measures; under autocast (which moves
        # the output anyway) channels-last feeds oneDNN's fast bf16/fp16
        # convolutions
        return AutocastFusionNet(
            fusion_net, precision, channels_last=precision != 'fp32')
    if precision != 'fp32':
        raise ValueError("backend='onnxruntime' runs fp32; use "
                         "backend='pytorch' for bf16/fp16")
    if not onnxruntime_available():
        raise ImportError(
            "backend='onnxruntime' needs ONNX Runtime: `pip install -r "
            "requirements/inference.txt` (or use backend='pytorch')")
    workdir = workdir or osp.join(_cache_dir(), 'onnx')
    path = osp.join(
        workdir, f'{type(fusion_net).__name__}_'
        f'{_fingerprint(fusion_net)}.onnx')
    if not osp.isfile(path):
        export_onnx(fusion_net, path)
    ort_net = ORTFusionNet(path, device=device)
    param = next(fusion_net.parameters(), None)
    dev = param.device if param is not None else torch.device('cpu')
    gen = torch.Generator().manual_seed(0)
    ir, vis_y = (
        torch.rand(1, 1, *check_shape, generator=gen).to(dev)
        for _ in range(2))
    with torch.no_grad():
        ref = _Traceable(fusion_net)(ir, vis_y)
        diff = (ort_net(ir, vis_y) - ref).abs().max().item()
    if not diff <= atol:
        raise RuntimeError(
            f'{type(fusion_net).__name__} exported to ONNX differs from '
            f'PyTorch by {diff:.3g} (> {atol}); use backend=\'pytorch\'')
    return ort_net
