# Copyright (c) mmfusion contributors. All rights reserved.
"""Shared pieces of the official-code parity checks.

A parity check runs one training step of a method's official code and of
mmfusion on the same weights and batch (float64) and compares every quantity
of the step. The repository keeps only *figures* of the official step
(fingerprints: a few statistics and seeded samples of each tensor), never the
official code; :func:`compare_fingerprints` checks mmfusion's step against
them.
"""
import json
import zlib
from typing import Dict, Iterable, Mapping, Optional, Tuple

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
    return torch.tensor([fp['sum'], fp['abs_sum'], fp['norm']] +
                        list(fp['samples']),
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
        quantities={k: fingerprint(v)
                    for k, v in sorted(tensors.items())})
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
