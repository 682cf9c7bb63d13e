"""tools/analysis_tools/analyze_logs.py on a json log written as mmengine
writes it (``<timestamp>/vis_data/<timestamp>.json``, one object a line):
TDFusion-style phased entries, a validation entry, a repeated value."""
import importlib.util
import json
import os.path as osp

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools', 'analysis_tools', 'analyze_logs.py')


def _tool():
    spec = importlib.util.spec_from_file_location('analyze_logs', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# meta phase at iters 1-4 (meta_inner.*, meta.*, task.*), fusion phase at
# 5-8 (fusion.*, task.*); logged every 2 iters; a key whose phase did not
# run in an interval repeats its previous value (as mmengine writes it)
ENTRIES = [
    {
        'fusion_net.lr': 1e-3,
        'meta_inner.loss': 0.60,
        'meta_inner.w_ir': 0.5,
        'meta.loss': 2.2,
        'meta.decode.loss_ce': 2.2,
        'task.loss': 2.1,
        'time': 9.0,
        'data_time': 0.01,
        'iter': 2,
        'step': 2
    },
    {
        'fusion_net.lr': 1e-3,
        'meta_inner.loss': 0.55,
        'meta_inner.w_ir': 0.6,
        'meta.loss': 2.0,
        'meta.decode.loss_ce': 2.0,
        'task.loss': 2.0,
        'time': 4.0,
        'data_time': 0.01,
        'iter': 4,
        'step': 4
    },
    {
        'fusion_net.lr': 1e-3,
        'meta_inner.loss': 0.55,
        'meta_inner.w_ir': 0.6,
        'meta.loss': 2.0,
        'meta.decode.loss_ce': 2.0,
        'task.loss': 1.5,
        'fusion.loss': 0.30,
        'fusion.loss_int': 0.05,
        'time': 1.0,
        'data_time': 0.01,
        'iter': 6,
        'step': 6
    },
    {
        'fusion_net.lr': 1e-4,
        'meta_inner.loss': 0.55,
        'meta_inner.w_ir': 0.6,
        'meta.loss': 2.0,
        'meta.decode.loss_ce': 2.0,
        'task.loss': 1.2,
        'fusion.loss': 0.20,
        'fusion.loss_int': 0.04,
        'time': 2.0,
        'data_time': 0.01,
        'iter': 8,
        'step': 8
    },
    {
        'fusion/VIF': 0.72,
        'mIoU': 25.7,
        'data_time': 0.003,
        'time': 0.15,
        'step': 8
    },
]


@pytest.fixture
def work_dir(tmp_path):
    run = tmp_path / '20260101_120000'
    (run / 'vis_data').mkdir(parents=True)
    log = run / 'vis_data' / '20260101_120000.json'
    log.write_text(''.join(json.dumps(e) + '\n' for e in ENTRIES) +
                   '{"truncated": ')  # an interrupted last write
    # the visualizer's copy must not be taken for the run's log
    (run / 'vis_data' / 'scalars.json').write_text('')
    return tmp_path, str(log)


def test_load_and_find(work_dir):
    tool = _tool()
    root, log = work_dir
    assert tool.find_json_log(str(root)) == log
    assert tool.find_json_log(log) == log
    data = tool.load_json_log(log)
    assert [e['step'] for e in data['train']] == [2, 4, 6, 8]
    assert data['val'] == [ENTRIES[-1]]


def test_curves_grouped_by_phase_prefix(work_dir):
    tool = _tool()
    curves = tool.collect_curves(tool.load_json_log(work_dir[1]))
    # every train loss, one group per prefix; no lr, w_ir, time
    assert list(curves) == ['meta_inner', 'meta', 'task', 'fusion']
    assert list(curves['meta']) == ['meta.loss', 'meta.decode.loss_ce']
    # the repeats of the meta phase's keys in the fusion phase are dropped
    assert curves['meta']['meta.loss'] == ([2, 4], [2.2, 2.0])
    assert curves['task']['task.loss'] == ([2, 4, 6, 8], [2.1, 2.0, 1.5, 1.2])
    assert curves['fusion']['fusion.loss'] == ([6, 8], [0.3, 0.2])
    kept = tool.collect_curves(
        tool.load_json_log(work_dir[1]), keep_repeats=True)
    assert kept['meta']['meta.loss'][0] == [2, 4, 6, 8]
    chosen = tool.collect_curves(
        tool.load_json_log(work_dir[1]), keys=['meta_inner.w_ir', 'mIoU'])
    assert chosen['meta_inner']['meta_inner.w_ir'] == ([2, 4], [0.5, 0.6])
    assert chosen['val']['mIoU'] == ([8], [25.7])
    with pytest.raises(KeyError, match='no_such_key'):
        tool.collect_curves(
            tool.load_json_log(work_dir[1]), keys=['no_such_key'])


def test_plot_curve_cli(work_dir, tmp_path):
    tool = _tool()
    root, log = work_dir
    out = tmp_path / 'losses.png'
    fig = tool.main(['plot_curve', str(root), '--out', str(out)])
    assert out.stat().st_size > 0
    assert [ax.get_title()
            for ax in fig.axes] == ['meta_inner', 'meta', 'task', 'fusion']
    labels = [line.get_label() for line in fig.axes[3].get_lines()]
    assert labels == ['fusion.loss', 'fusion.loss_int']
    # two runs compared, train and val keys
    out2 = tmp_path / 'cmp.png'
    fig = tool.main([
        'plot_curve', log, log, '--keys', 'fusion.loss', 'mIoU', '--legend',
        'a', 'b', '--out',
        str(out2)
    ])
    assert [ax.get_title() for ax in fig.axes] == ['fusion', 'val']
    assert [line.get_label()
            for line in fig.axes[1].get_lines()] == ['a: mIoU', 'b: mIoU']
    assert out2.stat().st_size > 0


def test_cal_train_time(work_dir, capsys):
    tool = _tool()
    log = work_dir[1]
    # the first interval (start-up) is left out by default
    (result, ) = tool.main(['cal_train_time', log])
    assert result['mean'] == pytest.approx((4 + 1 + 2) / 3)
    assert result['slowest'] == (4, 4.0)
    assert result['fastest'] == (6, 1.0)
    assert result['last_step'] == 8
    assert 'average iter time: 2.3333 s/iter' in capsys.readouterr().out
    (result, ) = tool.main(['cal_train_time', log, '--include-outliers'])
    assert result['mean'] == pytest.approx(4.0)
    assert result['slowest'] == (2, 9.0)
