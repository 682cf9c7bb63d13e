# Copyright (c) mmfusion contributors. All rights reserved.
"""One training step of a method's official code against mmfusion's, on the
same weights, batch, crops and task network, in float64.

    python tools/analysis_tools/official_parity.py --method tdfusion \\
        --official /path/to/TDFusion [--seed 0] [--preset small|msrs] \\
        [--hypergrad jvp|jvp+keep|double_backward|full_backward|all] \\
        [--write-reference tests/data/parity/tdfusion.json]

``--official`` is the user's checkout of the official repository (its
modules are imported from there; nothing of it is copied). One line per
quantity with its relative error ``||mmfusion - official|| / ||official||``;
the exit status is 1 if any exceeds ``--tol`` (default 1e-6).
``--write-reference FILE`` stores the *official* step's fingerprints
(figures: sums, norms and seeded samples of every quantity) and the
options, which ``tests/test_testing/test_official_parity_*.py`` check
mmfusion against. What each method compares: docs/<method>.md, "Parity with
the official code", and the docstring of ``mmfusion.testing.parity.<method>``.
"""
import argparse
import importlib
import os.path as osp
import shlex
import subprocess
import sys

METHODS = ('tdfusion', 'bdlfusion', 'seafusion', 'tardal')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Relative error of every quantity of one training step '
        'of mmfusion against the official code (float64)')
    parser.add_argument('--method', required=True, choices=METHODS)
    parser.add_argument(
        '--official',
        required=True,
        help='checkout of the official repository (imported from there)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--pair',
        nargs='+',
        help='stems of the pairs the step uses (default: the method '
        "module's)")
    parser.add_argument(
        '--preset',
        help="sizes of the comparison (the method module's PRESETS, e.g. "
        "'small' for the test, 'msrs' for the published sizes)")
    parser.add_argument(
        '--hypergrad',
        help="TDFusion: mmfusion's hypergradient mode, or 'all' (each one "
        'against the same official step)')
    parser.add_argument('--tol', type=float, default=None)
    parser.add_argument(
        '--official-commit',
        help='recorded in the reference (default: `git rev-parse HEAD` of '
        '--official, where it is a git checkout)')
    parser.add_argument(
        '--write-reference',
        metavar='FILE',
        help="store the official step's fingerprints as JSON")
    return parser.parse_args(argv)


def _git_commit(path: str):
    try:
        out = subprocess.run(['git', '-C', path, 'rev-parse', 'HEAD'],
                             capture_output=True,
                             text=True,
                             timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmfusion.testing.parity import common
    module = importlib.import_module(f'mmfusion.testing.parity.{args.method}')
    tol = common.DEFAULT_TOL if args.tol is None else args.tol
    options = {}
    if args.preset:
        options['preset'] = args.preset
    modes = [None]
    if args.hypergrad:
        known = getattr(module, 'HYPERGRAD_MODES', ())
        if not known:
            sys.exit(f'--hypergrad: {args.method} has no hypergradient modes')
        modes = list(known) if args.hypergrad == 'all' else [args.hypergrad]
        bad = [m for m in modes if m not in known]
        if bad:
            sys.exit(f'--hypergrad must be one of {list(known)} or all, got '
                     f'{args.hypergrad!r}')
    try:
        theirs = module.official_step(
            args.official, seed=args.seed, pair=args.pair, **options)
    except FileNotFoundError as e:
        sys.exit(f'official_parity.py: {e}')
    order = getattr(module, 'QUANTITIES', None)
    ok = True
    for mode in modes:
        extra = {} if mode is None else dict(hypergrad=mode)
        ours = module.mmfusion_step(
            seed=args.seed, pair=args.pair, **options, **extra)
        errors = common.compare_tensors(ours, theirs)
        report, good = common.format_report(errors, tol, order)
        title = f'{args.method}: mmfusion vs official ({args.official}), ' \
            f'seed {args.seed}' + (f', hypergrad {mode}' if mode else '')
        print(title)
        print(report)
        ok &= good
    if args.write_reference:
        out = args.write_reference
        if osp.dirname(out):
            import os
            os.makedirs(osp.dirname(out), exist_ok=True)
        common.save_reference(
            out,
            theirs,
            meta=dict(
                method=args.method,
                options=dict(seed=args.seed, pair=args.pair, **options),
                official=osp.basename(osp.abspath(args.official)),
                official_commit=args.official_commit
                or _git_commit(args.official),
                command='python tools/analysis_tools/official_parity.py ' +
                shlex.join(sys.argv[1:] if argv is None else argv)))
        print(f'official fingerprints written to {out}')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
