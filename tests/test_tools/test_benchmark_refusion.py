# Copyright (c) mmfusion contributors. All rights reserved.
"""benchmark_refusion.py: its arguments, and a real (tiny) net comparison
against a stand-in for the released code's ``nets/ReFusion.py``.

The stand-in (written into a temporary "checkout") is mmfusion's plain
ReFusionNet behind the released code's parameter names, so the tool's
converter round trip, interleaved timing, output and gradient comparison
and report run for real without the released code in the repository."""
import importlib.util
import os.path as osp
import sys
import textwrap

import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools/analysis_tools/benchmark_refusion.py')

# released name -> mmfusion name: every rule of the converter, inverted
STAND_IN = textwrap.dedent('''
    import torch.nn as nn
    from mmfusion.models import ReFusionNet


    def _released_name(name):
        name = name.replace('encoder1.stem.', 'project_in_1.')
        name = name.replace('encoder2.stem.', 'project_in_2.')
        name = name.replace('encoder1.blocks.', 'encoder1.')
        name = name.replace('encoder2.blocks.', 'encoder2.')
        name = name.replace('fusion.gate_dwconv.', 'FM.project_E_d.')
        name = name.replace('fusion.gate.', 'FM.project_E.')
        for i in '12':
            name = name.replace(f'fusion.value{i}_dwconv.',
                                f'FM.project_E{i}_d.')
            name = name.replace(f'fusion.value{i}.', f'FM.project_E{i}.')
        name = name.replace('fusion.', 'FM.')
        name = name.replace('head_conv1.', 'project_out_0.')
        name = name.replace('head_conv2.', 'project_out_1.')
        for n in ('norm1', 'norm2'):
            name = name.replace(f'.{n}.', f'.{n}.body.')
        return name


    class ReFusion(nn.Module):
        """Stand-in: released parameter names, plain mmfusion maths."""

        def __init__(self):
            super().__init__()
            inner = ReFusionNet(fast=False)
            object.__setattr__(self, 'inner', inner)
            self._names = {}
            for name, p in inner.named_parameters():
                key = _released_name(name).replace('.', '__')
                self._names[key] = name
                self.register_parameter(key, p)

        def state_dict(self, *args, **kwargs):
            return {
                _released_name(n): p.detach()
                for n, p in self.inner.named_parameters()
            }

        def named_parameters(self, *args, **kwargs):
            for n, p in self.inner.named_parameters():
                yield _released_name(n), p

        def forward(self, x, meta=False):
            return self.inner(x[:, :1], x[:, 1:])
''')


@pytest.fixture(scope='module')
def tool():
    spec = importlib.util.spec_from_file_location('benchmark_refusion', TOOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture
def official(tmp_path):
    (tmp_path / 'nets').mkdir()
    (tmp_path / 'nets' / '__init__.py').write_text('')
    (tmp_path / 'nets' / 'ReFusion.py').write_text(STAND_IN)
    yield str(tmp_path)
    for name in [
            m for m in sys.modules if m == 'nets' or m.startswith('nets.')
    ]:
        del sys.modules[name]
    if str(tmp_path) in sys.path:
        sys.path.remove(str(tmp_path))


def test_arguments_are_checked(tool, tmp_path, official, capsys):
    cases = [
        ([], '--official'),
        (['--official', str(tmp_path / 'nope')], 'no nets/ReFusion.py'),
        (['--official', official, '--device', 'tpu'], "'cpu' or 'cuda"),
        (['--official', official, '--rounds', '0'], '--rounds must be'),
        (['--official', official, '--parts',
          'iteration'], 'the iteration needs nets/Segformer.py'),
        (['--official', official, '--checkpoint',
          str(tmp_path / 'x.pth')], 'no such file'),
        (['--official', official, '--parts', 'step', '--steps',
          '1'], '--steps must be >= 2'),
    ]
    for argv, message in cases:
        with pytest.raises(SystemExit):
            tool.parse_args(argv)
        assert message in capsys.readouterr().err, argv
    args = tool.parse_args(['--official', official, '--device', 'cuda'])
    assert args.device == 'cuda' and args.parts == ['net']
    assert args.threads == 1 and args.malloc == 'default'


@pytest.mark.skipif(
    torch.cuda.is_available(), reason='checks the no-CUDA message')
def test_cuda_without_a_gpu_is_a_clear_error(tool, official):
    with pytest.raises(SystemExit, match='CUDA is not available'):
        tool.main(['--official', official, '--device', 'cuda'])


def test_net_comparison_runs_and_reports(tool, official, tmp_path, capsys):
    out = tmp_path / 'res.json'
    res = tool.main([
        '--official', official, '--shape', '12', '10', '--crop', '8', '8',
        '--rounds', '2', '--warmup', '0', '--no-compile', '--out',
        str(out)
    ])
    assert out.is_file()
    text = capsys.readouterr().out
    assert 'released / this (CPU)' in text and 'forward+backward' in text
    assert res['threads'] == 1 and 'flags' in res['cpu']
    fwd = res['net']['forward']['contenders']
    assert sorted(fwd) == [
        'mmfusion', 'mmfusion-plain', 'mmfusion-untiled', 'released'
    ]
    assert fwd['released']['speedup_cpu'] == 1.0
    for row in fwd.values():
        assert row['cpu_s'] > 0 and len(row['all_wall_s']) == 2
        # the same weights through the converter: the same function
        assert row['max_abs_diff'] < 1e-5
    train = res['net']['forward+backward']
    assert train['input'] == [2, 1, 8, 8]
    for key in ('mmfusion', 'mmfusion-plain'):
        assert train['contenders'][key]['max_abs_grad_diff'] < 1e-5


def test_training_steps_in_fresh_processes(tool, official, tmp_path, capsys):
    """``--parts step``: a fresh child per contender runs optimizer steps
    (the first not counted), under the ``--malloc`` policy given."""
    res = tool.main([
        '--official', official, '--parts', 'step', '--crop', '8', '8',
        '--steps', '3', '--iters', '1', '--malloc', 'keep-freed'
    ])
    text = capsys.readouterr().out
    assert 'training step (Adam, 8x8 crop batch of 2)' in text
    rows = res['step']['contenders']
    assert list(rows) == list(tool.STEP_CONTENDERS)
    # the tuning in effect in every child (the parent left as it was)
    assert {(row['malloc'], row['keep_freed'])
            for row in rows.values()} == {('keep-freed', True)}
    for row in rows.values():
        assert row['n'] == 2 and row['cpu_s'] > 0 and row['faults'] >= 0
    assert rows['released']['speedup_cpu'] == 1.0
