# Copyright (c) mmfusion contributors. All rights reserved.
"""Shared pieces of the official-code parity checks.

A parity check runs one training step of a method's official code and of
mmfusion on the same weights and batch (float64) and compares every quantity
of the step. The repository keeps only *figures* of the official step
(fingerprints: a few statistics and seeded samples of each tensor), never the
official code; :func:`compare_fingerprints` checks mmfusion's step against
them.
"""
import contextlib
import json
import os.path as osp
import sys
import zlib
from pathlib import Path
from typing import (Callable, Dict, Iterable, Iterator, Mapping, Optional,
                    Sequence, Tuple)

import torch
from torch import Tensor

#: relative error above which a quantity is reported as a mismatch
DEFAULT_TOL = 1e-6
#: seeded flat positions sampled per tensor in a fingerprint
N_SAMPLES = 16


def rel_err(a: Tensor, b: Tensor) -> float:
    """``||a - b|| / ||b||`` in float64 (``||a - b||`` where ``b`` is 0).

    Shapes must agree exactly (no broadcasting: a transposed or squeezed
    quantity is a finding, not a match).
    """
    a = torch.as_tensor(a).detach().to('cpu', torch.float64)
    b = torch.as_tensor(b).detach().to('cpu', torch.float64)
    if a.shape != b.shape:
        raise ValueError(f'shape {tuple(a.shape)} != {tuple(b.shape)}')
    den = b.norm()
    num = (a - b).norm()
    return float(num / den) if den > 0 else float(num)


def _name_seed(seed: int, name: str) -> int:
    return (int(seed) * 1000003 + zlib.crc32(name.encode())) % (2**63 - 1)


def seeded_init_(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Fill every parameter of ``module`` from a generator seeded by
    ``(seed, parameter name)``, independent of the module's own init code and
    of the order in which parameters were created.

    Weights of rank >= 2 are uniform in ``±1/sqrt(fan_in)``; 1-D ``*weight``
    (norm scales) are ``1 + U(±0.1)``, other 1-D tensors (biases) ``U(±0.1)``.
    Buffers (e.g. BN running statistics) keep their defaults. Identical names
    and shapes give identical values in any process, so the same weights can
    be carried to an official network through a converter's key mapping.
    """
    with torch.no_grad():
        for name, p in sorted(module.named_parameters()):
            g = torch.Generator().manual_seed(_name_seed(seed, name))
            u = torch.rand(p.shape, generator=g, dtype=torch.float64) * 2 - 1
            if p.dim() >= 2:
                u = u / (p[0].numel()**0.5)
            elif name.endswith('weight'):
                u = 1 + 0.1 * u
            else:
                u = 0.1 * u
            p.copy_(u.to(p.dtype))
    return module


def _sample_index(numel: int, seed: int = 0) -> Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, max(numel, 1), (N_SAMPLES, ), generator=g)


def fingerprint(t: Tensor, seed: int = 0) -> dict:
    """Statistics of a tensor that a stored reference can hold: shape, sum,
    sum of absolute values, L2 norm and :data:`N_SAMPLES` values at seeded
    flat positions (a sign flip, a scaled term or a permutation changes
    them)."""
    t = torch.as_tensor(t).detach().to('cpu', torch.float64)
    flat = t.reshape(-1)
    idx = _sample_index(flat.numel(), seed)
    samples = flat[idx] if flat.numel() else torch.zeros(N_SAMPLES)
    return dict(
        shape=list(t.shape),
        sum=float(flat.sum()),
        abs_sum=float(flat.abs().sum()),
        norm=float(flat.norm()),
        samples=[float(v) for v in samples])


def _fp_vector(fp: Mapping) -> Tensor:
    return torch.tensor(
        [fp['sum'], fp['abs_sum'], fp['norm']] + list(fp['samples']),
        dtype=torch.float64)


def compare_tensors(ours: Mapping[str, Tensor],
                    theirs: Mapping[str, Tensor]) -> Dict[str, float]:
    """Relative error of every quantity; the two steps must report the
    same keys (a missing quantity is an error naming it)."""
    _same_keys(ours, theirs)
    return {k: rel_err(ours[k], theirs[k]) for k in theirs}


def compare_fingerprints(ours: Mapping[str, Tensor],
                         reference: Mapping[str, Mapping]) -> Dict[str, float]:
    """Relative error of each of ``ours``' fingerprints against a stored
    reference fingerprint (the vector of sum, abs-sum, norm and samples)."""
    _same_keys(ours, reference)
    errors = {}
    for k, ref in reference.items():
        fp = fingerprint(ours[k])
        if fp['shape'] != list(ref['shape']):
            raise ValueError(f'{k}: shape {fp["shape"]} != reference '
                             f'{list(ref["shape"])}')
        errors[k] = rel_err(_fp_vector(fp), _fp_vector(ref))
    return errors


def _same_keys(ours: Mapping, theirs: Mapping) -> None:
    missing = sorted(set(theirs) - set(ours))
    extra = sorted(set(ours) - set(theirs))
    if missing or extra:
        raise KeyError(f'quantities differ: missing {missing}, '
                       f'unexpected {extra}')


def save_reference(path: str,
                   tensors: Mapping[str, Tensor],
                   meta: Optional[dict] = None) -> None:
    """Write the fingerprints of ``tensors`` (and ``meta``: method, seed,
    official commit, command) as JSON."""
    data = dict(
        meta=dict(meta or {}),
        quantities={
            k: fingerprint(v)
            for k, v in sorted(tensors.items())
        })
    with open(path, 'w') as f:
        json.dump(data, f, indent=1)
        f.write('\n')


def load_reference(path: str) -> Tuple[dict, Dict[str, dict]]:
    """``(meta, fingerprints)`` of a reference written by
    :func:`save_reference`."""
    with open(path) as f:
        data = json.load(f)
    return data.get('meta', {}), data['quantities']


def format_report(errors: Mapping[str, float],
                  tol: float = DEFAULT_TOL,
                  order: Optional[Iterable[str]] = None) -> Tuple[str, bool]:
    """One line per quantity (relative error, ok / MISMATCH) and whether all
    are within ``tol``."""
    keys = list(order) if order is not None else sorted(errors)
    width = max((len(k) for k in keys), default=8)
    lines, ok = [], True
    for k in keys:
        e = errors[k]
        good = e <= tol  # NaN is not good
        ok &= good
        lines.append(f'{k:<{width}}  {e:.3e}  {"ok" if good else "MISMATCH"}')
    lines.append(f'{"all" if ok else "NOT all"} {len(keys)} quantities within '
                 f'{tol:g} relative')
    return '\n'.join(lines), ok


# ------------------------------------------------------------ official code
def check_checkout(official_dir: str, names: Sequence[str]) -> str:
    """The absolute path of ``official_dir`` if it holds the modules
    ``names`` (``'nets.ReFusion'`` -> ``nets/ReFusion.py``); else a
    ``FileNotFoundError`` naming the folder or the missing file."""
    official_dir = osp.abspath(osp.expanduser(official_dir))
    if not osp.isdir(official_dir):
        raise FileNotFoundError(
            f'{official_dir}: no such folder (expected a checkout of the '
            'official repository)')
    for name in names:
        path = osp.join(official_dir, *name.split('.')) + '.py'
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'{path}: not found; is {official_dir} a checkout of the '
                f'official repository (it needs {", ".join(names)})?')
    return official_dir


@contextlib.contextmanager
def official_modules(official_dir: str,
                     names: Sequence[str]) -> Iterator[Dict[str, object]]:
    """Import the modules ``names`` (e.g. ``['utils', 'nets.ReFusion']``)
    of a checkout of an official repository from ``official_dir``, as its
    scripts import them (the folder first on ``sys.path``).

    Official repositories use generic top-level names (``utils``, ``nets``,
    ``model``); whatever ``sys.modules`` held under those names before is
    put back on exit, and the official modules are removed, so two
    methods' checkouts (or the test suite's own modules) never see each
    other's. Raises a ``FileNotFoundError`` naming the folder and the file
    when a module is missing.
    """
    import importlib
    official_dir = check_checkout(official_dir, names)
    tops = {name.split('.')[0] for name in names}

    def ours(mod_name: str) -> bool:
        return mod_name.split('.')[0] in tops

    saved = {k: v for k, v in sys.modules.items() if ours(k)}
    for k in saved:
        del sys.modules[k]
    sys.path.insert(0, official_dir)
    try:
        yield {name: importlib.import_module(name) for name in names}
    finally:
        sys.path.remove(official_dir)
        for k in [k for k in sys.modules if ours(k)]:
            del sys.modules[k]
        sys.modules.update(saved)


def key_map(convert: Callable[[dict], Mapping[str, Tensor]],
            state: Mapping[str, Tensor]) -> Dict[str, str]:
    """``{official key: mmfusion key}`` for every key of an official
    ``state``, by the project's converter ``convert`` (a ``*_convert``
    function of :mod:`mmfusion.models.utils.ckpt_convert`, bound to its
    network), applied key by key: the parity checks carry weights through
    the very mapping users convert checkpoints with."""
    out = {}
    for k, v in state.items():
        converted = convert({k: v})
        if len(converted) != 1:
            raise KeyError(f'{k}: the converter maps it to '
                           f'{list(converted)} (expected one key)')
        out[k] = next(iter(converted))
    return out


def load_converted(official: torch.nn.Module, ours: torch.nn.Module,
                   convert: Callable[[dict], Mapping[str, Tensor]]) -> None:
    """Give the official network ``official`` the weights (and buffers) of
    mmfusion's ``ours`` through the converter's key mapping (strict: every
    official key must map to one of ours)."""
    mapping = key_map(convert, official.state_dict())
    theirs = ours.state_dict()
    missing = sorted(set(mapping.values()) - set(theirs))
    if missing:
        raise KeyError(f'the converter maps official keys to {missing}, '
                       f'which {type(ours).__name__} does not have')
    official.load_state_dict({
        k: theirs[v]
        for k, v in mapping.items()
    },
                             strict=True)


def scalar(v) -> Tensor:
    """``v`` (a number or a one-element tensor) as a 0-d float64 tensor."""
    return torch.as_tensor(v).detach().to(torch.float64).reshape(())


def named_vector(named: Mapping[str, Tensor],
                 names: Optional[Iterable[str]] = None) -> Tensor:
    """The tensors of ``named`` flattened and concatenated in the order of
    ``names`` (default: sorted keys), as one float64 vector; a missing name
    (e.g. a parameter that got no gradient) is an error naming it."""
    names = sorted(named) if names is None else list(names)
    missing = [n for n in names if named.get(n) is None]
    if missing:
        raise KeyError(f'no tensor for {missing[:5]}')
    if not names:
        return torch.zeros(0, dtype=torch.float64)
    return torch.cat([
        named[n].detach().to('cpu', torch.float64).reshape(-1) for n in names
    ])


# ------------------------------------------------------------ mmfusion side
def repo_root() -> Path:
    """The folder holding the ``mmfusion`` package (configs, data)."""
    import mmfusion
    return Path(mmfusion.__file__).resolve().parents[1]


def load_config(config: str):
    """The config ``config`` (relative to :func:`repo_root`), with the
    ``mmfusion`` default scope set."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import mmfusion  # noqa: F401
    init_default_scope('mmfusion')
    return Config.fromfile(str(repo_root() / config))


def build_float64_model(cfg,
                        seed: int,
                        nets: Sequence[str],
                        inputs_wrapper: Callable,
                        prepare_task: Callable,
                        model_options: Optional[dict] = None):
    """The model of ``cfg.model`` (``model_options`` merged in last) with
    its data preprocessor wrapped by ``inputs_wrapper``, its task prepared by
    ``prepare_task`` (a float64 preprocessor), the sub-networks ``nets``
    (attribute names) filled by :func:`seeded_init_`, moved to float64 in
    train mode; and its optimiser wrappers (``cfg.optim_wrapper``)."""
    from mmfusion.models.utils.misc import unwrap
    from mmfusion.registry import MODELS, OPTIM_WRAPPER_CONSTRUCTORS
    if model_options:
        cfg.merge_from_dict(dict(model=model_options))
    model = MODELS.build(cfg.model)
    model.data_preprocessor = inputs_wrapper(model.data_preprocessor)
    prepare_task(unwrap(model.task))
    for name in nets:
        seeded_init_(unwrap(getattr(model, name)), seed)
    model.double().train()
    ow_cfg = dict(cfg.optim_wrapper)
    constructor = ow_cfg.pop('constructor')
    ow = OPTIM_WRAPPER_CONSTRUCTORS.build(
        dict(type=constructor, optim_wrapper_cfg=ow_cfg))(
            model)
    return model, ow


def msrs_dataset(root: str):
    """mmfusion's MSRS data set of the split ``root`` (pipeline:
    ``LoadPairedImageFromFile``, ``mmseg.LoadAnnotations``,
    ``PackFusionInputs``); a ``FileNotFoundError`` naming ``root`` where it
    has no ``ir/``."""
    from mmfusion.registry import DATASETS
    if not osp.isdir(osp.join(root, 'ir')):
        raise FileNotFoundError(f'{root}: expected an MSRS split with ir/, '
                                'vi/ and Segmentation_labels/')
    return DATASETS.build(
        dict(
            type='MSRSDataset',
            data_root=root,
            data_prefix=dict(ir='ir', vis='vi', seg='Segmentation_labels'),
            pipeline=[
                dict(type='LoadPairedImageFromFile'),
                dict(type='mmseg.LoadAnnotations'),
                dict(type='PackFusionInputs'),
            ]))


def cut_item(item: dict,
             window: Sequence[int],
             stem: str,
             what: str = 'window') -> dict:
    """Cut the data set item ``item`` (in place) to ``window``
    ``(top, left, h, w)``: inputs, data samples, ``ori_shape``; a
    ``ValueError`` (calling the window ``what``) where it leaves the pair
    ``stem``."""
    from mmfusion.models.utils.views import crop_sample
    top, left, h, w = window
    inputs = item['inputs']
    if top + h > inputs.shape[-2] or left + w > inputs.shape[-1]:
        raise ValueError(f'{what} {tuple(window)} outside the '
                         f'{tuple(inputs.shape[-2:])} pair {stem}')
    item['inputs'] = inputs[:, top:top + h, left:left + w].contiguous()
    crop_sample(item['data_samples'], top, left, h, w)
    item['data_samples'].set_metainfo(dict(ori_shape=(h, w)))
    return item


# ------------------------------------------------------------ snapshots
def params(net: torch.nn.Module) -> Dict[str, Tensor]:
    """Copies of ``net``'s parameters by name."""
    return {n: p.detach().clone() for n, p in net.named_parameters()}


def grads(net: torch.nn.Module) -> Dict[str, Tensor]:
    """Copies of ``net``'s gradients by name (parameters without one are
    left out)."""
    return {
        n: p.grad.detach().clone()
        for n, p in net.named_parameters() if p.grad is not None
    }


def bn_buffers(net: torch.nn.Module) -> Dict[str, Tensor]:
    """Copies of ``net``'s ``running_*`` buffers by name, in float64."""
    return {
        n: b.detach().to(torch.float64).clone()
        for n, b in net.named_buffers() if 'running_' in n
    }


def optimizer_state(optimizer, net: torch.nn.Module,
                    key: str) -> Dict[str, Tensor]:
    """Copies of ``optimizer``'s state ``key`` (e.g. ``'exp_avg'``) of
    ``net``'s parameters by name (parameters without it are left out)."""
    return {
        n: optimizer.state[p][key].detach().clone()
        for n, p in net.named_parameters()
        if key in optimizer.state.get(p, {})
    }


def param_groups(optimizer,
                 net: torch.nn.Module) -> Dict[str, Dict[str, Tensor]]:
    """Each parameter's ``lr`` and ``weight_decay`` in ``optimizer``."""
    names = {id(p): n for n, p in net.named_parameters()}
    out = dict(lr={}, weight_decay={})
    for g in optimizer.param_groups:
        for p in g['params']:
            if id(p) in names:
                for key in out:
                    out[key][names[id(p)]] = torch.tensor(
                        float(g[key]), dtype=torch.float64)
    return out


def grad_recorder(optimizer, net: torch.nn.Module, store: list):
    """A step pre-hook on ``optimizer`` appending ``net``'s gradients (by
    name) to ``store``; returns the hook's handle."""
    names = {id(p): n for n, p in net.named_parameters()}

    def record(opt, args, kwargs):
        store.append({
            names[id(p)]: p.grad.detach().clone()
            for g in opt.param_groups
            for p in g['params'] if p.grad is not None and id(p) in names
        })

    return optimizer.register_step_pre_hook(record)


def strip_prefix(named: Mapping[str, Tensor], prefix: str) -> dict:
    """``named`` with the first ``len(prefix)`` characters of each key
    dropped (the official side's wrapper prefix, e.g. ``'adapter.'``)."""
    return {k[len(prefix):]: v for k, v in named.items()}


class Float64SegPreProcessor(torch.nn.Module):
    """mmseg's ``SegDataPreProcessor`` for unpadded batches without its cast
    to float32: BGR -> RGB when the original converts channels (3-channel
    inputs only), ``(x - mean) / std`` per channel, stacked, in the input's
    dtype; sets ``img_shape``/``pad_shape`` as mmseg's ``stack_batch``
    does."""

    def __init__(self, original: torch.nn.Module):
        super().__init__()
        self.channel_conversion = bool(
            getattr(original, 'channel_conversion', False))
        self.register_buffer('mean', original.mean.detach().clone(), False)
        self.register_buffer('std', original.std.detach().clone(), False)

    def forward(self, data: dict, training: bool = False) -> dict:
        inputs = []
        for x in data['inputs']:
            if self.channel_conversion and x.size(0) == 3:
                x = x[[2, 1, 0], ...]
            inputs.append((x - self.mean) / self.std)
        inputs = torch.stack(inputs)
        samples = data.get('data_samples')
        for s in samples or ():
            s.set_metainfo(
                dict(
                    img_shape=tuple(inputs.shape[-2:]),
                    pad_shape=tuple(inputs.shape[-2:])))
        return dict(inputs=inputs, data_samples=samples)


def prepare_task(adapter: torch.nn.Module) -> None:
    """Give a :class:`TaskAdapter`'s segmentor the float64 preprocessor
    (:class:`Float64SegPreProcessor`)."""
    adapter.model.data_preprocessor = Float64SegPreProcessor(
        adapter.model.data_preprocessor)
