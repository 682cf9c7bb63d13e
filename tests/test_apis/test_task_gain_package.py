"""The task-gain package (mmfusion.apis.task_gain) piece by piece: the stage
selection, the fusion runs of a preset (fusion seeds, twins, warm-ups), the
time estimate, the paired report and an in-process fusion training that
resumes where it stopped (run identity and claiming of
mmfusion.apis.task_driven.identity). The whole pipeline:
tests/test_tools/test_task_gain.py."""
import json
import math
import os
import os.path as osp

import pytest
from mmengine.config import Config

from mmfusion.apis.task_driven import InputSource, TaskEvalResult
from mmfusion.apis.task_gain import (TRAINED_FILE, fusion_runs,
                                     paired_differences, parse_stages,
                                     prepare_dataset, restore_state,
                                     save_state, train_fusion)
from mmfusion.apis.task_gain.preset import load_cfg, load_preset
from mmfusion.apis.task_gain.progress import Progress
from mmfusion.apis.task_gain.report import paired_table, report_metrics

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _preset(**kw):
    cfg = Config(
        dict(
            work_dir='w',
            fusion_seeds=[0, 1],
            methods=[
                dict(
                    name='A',
                    config='a.py',
                    cfg_options={'x': 1},
                    quick_cfg_options={'y': 2},
                    twin=dict(
                        name='A twin',
                        config='a_twin.py',
                        quick_cfg_options={'y': 3})),
                dict(
                    name='B',
                    config='b.py',
                    warmup='b_warm.py',
                    twin=dict(name='B twin', config='b_twin.py')),
                dict(name='C', config='c.py'),
            ],
            quick=dict(fusion_seeds=[5, 6])))
    cfg.merge_from_dict(kw)
    return cfg


def test_parse_stages():
    assert parse_stages(None) == ([
        'data', 'rules', 'released', 'train', 'task_eval', 'report'
    ], {})
    # order of the pipeline, eval = task_eval, per method
    assert parse_stages(['report', 'eval', 'train:A', 'train:B']) == \
        (['train', 'task_eval', 'report'], {'train': ['A', 'B']})
    with pytest.raises(ValueError, match='unknown stage .trian'):
        parse_stages(['trian'])
    with pytest.raises(ValueError, match='only train and task_eval'):
        parse_stages(['data:A'])


def test_fusion_runs_pair_method_and_twin_by_seed():
    cfg = load_preset(_preset(), quick=True)
    runs = fusion_runs(cfg, '/w', True, cfg.fusion_seeds)
    assert [(r.name, r.role, r.seed)
            for r in runs] == [('A s5', 'method', 5), ('A twin s5', 'twin', 5),
                               ('B warm-up s5', 'warmup', 5),
                               ('B s5', 'method', 5), ('B twin s5', 'twin', 5),
                               ('C s5', 'method', 5), ('A s6', 'method', 6),
                               ('A twin s6', 'twin', 6),
                               ('B warm-up s6', 'warmup', 6),
                               ('B s6', 'method', 6), ('B twin s6', 'twin', 6),
                               ('C s6', 'method', 6)]
    a, a_twin, warm, b, b_twin = runs[:5]
    # the twin gets the method's schedule options, then its own
    assert a.options == {'x': 1, 'y': 2}
    assert a_twin.options == {'x': 1, 'y': 3}
    assert a_twin.config == 'a_twin.py'
    # method and twin start from the same warm-up of their seed
    assert b.warmup is warm and b_twin.warmup is warm
    assert warm.work_dir == '/w/methods/B/seed_5/warmup'
    assert b.work_dir == '/w/methods/B/seed_5/train'
    assert b_twin.work_dir == '/w/methods/B_twin/seed_5/train'
    assert b.kind == 'train/B/method' and b.key == 'train/B/method/seed_5'
    # one method only; one fusion seed: the single-seed layout and names
    runs = fusion_runs(cfg, '/w', False, [0], methods=['A'])
    assert [(r.name, r.work_dir)
            for r in runs] == [('A', '/w/methods/A/train'),
                               ('A twin', '/w/methods/A_twin/train')]
    assert runs[0].options == {'x': 1}


def test_preset_errors():
    with pytest.raises(ValueError, match='distinct.*A twin'):
        load_preset(
            _preset(methods=[
                dict(name='A twin', config='a.py'),
                dict(
                    name='A',
                    config='a.py',
                    twin=dict(name='A twin', config='b.py'))
            ]))
    with pytest.raises(ValueError, match='twin of .A. needs a name'):
        load_preset(
            _preset(methods=[
                dict(name='A', config='a.py', twin=dict(config='b.py'))
            ]))
    with pytest.raises(ValueError, match='fusion_seeds must be distinct'):
        load_preset(_preset(fusion_seeds=[1, 1]))
    with pytest.raises(KeyError, match='no `quick` settings'):
        load_preset(Config(dict(methods=[])), quick=True)


def test_progress_estimates_from_measured_units(tmp_path):
    lines = []
    progress = Progress(str(tmp_path / 'timings.json'), lines.append)
    units = [(f'train/A/method/seed_{s}', 'train/A/method') for s in range(3)]
    units += [(f'task/X/seed_{s}', 'task') for s in range(2)]
    progress.add(units)
    assert progress.left() == (0.0, 5)  # nothing measured yet
    progress.timings['train/A/method/seed_0'] = 10.0  # (as if it ran)
    progress.run('train/A/method/seed_0', 'train/A/method', 'A seed 0', lambda:
                 (None, False))
    # seed 0 done before (its time kept), seeds 1 and 2 ~ 10 s each, the
    # task runs not yet measured
    assert progress.left() == (20.0, 2)
    assert lines[-1].startswith('[1/5] A seed 0: 0 s (done before) | ')
    assert 'left ~0:00:20 + 2 stage(s) not yet measured' in lines[-1]
    progress.run('task/X/seed_0', 'task', 'X seed 0', lambda: (1, True))
    with open(tmp_path / 'timings.json') as f:
        assert set(json.load(f)) == {'train/A/method/seed_0', 'task/X/seed_0'}
    # a new process reads what was measured
    again = Progress(str(tmp_path / 'timings.json'), lines.append)
    again.add(units)
    assert again.estimate('task/X/seed_1') == again.timings['task/X/seed_0']
    assert again.estimate('train/A/method/seed_0') == 0.0


def _share_units(work_dir, name, start, results):
    """One of the processes of test_processes_share_units: each unit works
    (sleeps, leaves a mark) unless its mark is there."""
    import time
    start.wait()

    def unit(i):
        mark = osp.join(work_dir, f'unit{i}.done')
        if osp.exists(mark):
            with open(mark) as f:
                return f.read(), False
        time.sleep(0.3)
        with open(mark, 'w') as f:
            f.write(name)
        return name, True

    progress = Progress(
        osp.join(work_dir, 'timings.json'),
        lambda line: None,
        lock_dir=osp.join(work_dir, '.locks'))
    results[name] = progress.run_all([
        (f'task/u{i}', 'task', f'u{i}', unit, (i, )) for i in range(6)
    ])


@pytest.mark.skipif(os.name != 'posix', reason='unit locks need fcntl')
def test_processes_share_units(tmp_path):
    import multiprocessing as mp
    ctx = mp.get_context('fork')
    start, manager = ctx.Event(), ctx.Manager()
    results = manager.dict()
    procs = [
        ctx.Process(
            target=_share_units,
            args=(str(tmp_path), n, start, results),
            daemon=True) for n in ('a', 'b')
    ]
    for p in procs:
        p.start()
    start.set()
    try:
        for p in procs:
            p.join(60)
            assert p.exitcode == 0
    finally:
        for p in procs:
            p.kill()
    # every unit worked exactly once (the mark names who did it), both
    # processes got every result, and the work was shared
    a, b = results['a'], results['b']
    done_by = [(tmp_path / f'unit{i}.done').read_text() for i in range(6)]
    assert a == b == done_by
    assert set(done_by) == {'a', 'b'}
    with open(tmp_path / 'timings.json') as f:
        assert set(json.load(f)) == {f'task/u{i}' for i in range(6)}


@pytest.mark.skipif(os.name != 'posix', reason='unit locks need fcntl')
def test_progress_waits_for_a_held_unit(tmp_path):
    """A unit held by another lock holder is left until the others are
    done, then waited for; the results keep the units' order."""
    import fcntl
    lock_dir = tmp_path / '.locks'
    lock_dir.mkdir()
    lines, order = [], []
    held = open(lock_dir / 'task__u0.lock', 'a')
    fcntl.flock(held, fcntl.LOCK_EX)

    def unit(i):
        order.append(i)
        if i == 2:  # the other holder finishes meanwhile
            fcntl.flock(held, fcntl.LOCK_UN)
        return i * 10, True

    progress = Progress(
        str(tmp_path / 'timings.json'), lines.append, lock_dir=str(lock_dir))
    assert progress.run_all([(f'task/u{i}', 'task', f'u{i}', unit, (i, ))
                             for i in range(3)]) == [0, 10, 20]
    assert order == [1, 2, 0]
    assert lines[0] == 'u0: another process is on it; left for later'
    held.close()
    # a unit waited for inside another (a method for its warm-up) is not
    # counted as the outer unit's time
    held = open(lock_dir / 'warm.lock', 'a')
    fcntl.flock(held, fcntl.LOCK_EX)
    import threading
    threading.Timer(0.6, fcntl.flock, (held, fcntl.LOCK_UN)).start()
    progress.run(
        'method', 'm', 'method', lambda:
        (progress.run('warm', 'w', 'warm', lambda: (None, True)), True))
    assert progress.timings['method'] < 0.3
    assert lines[-3] == 'warm: another process is on it; waiting for it'
    held.close()


def test_progress_without_locks(tmp_path, monkeypatch):
    """Without fcntl (Windows), units run in order, unlocked."""
    from mmfusion.apis.task_gain import progress as progress_module
    monkeypatch.setattr(progress_module, 'fcntl', None)
    progress = Progress(
        str(tmp_path / 'timings.json'),
        lambda line: None,
        lock_dir=str(tmp_path / '.locks'))
    assert progress.lock_dir is None
    assert progress.run_all([(f'u{i}', 'u', f'u{i}', lambda i:
                              (i, True), (i, ))
                             for i in range(3)]) == [0, 1, 2]
    assert not (tmp_path / '.locks').exists()


@pytest.mark.skipif(os.name != 'posix', reason='unit locks need fcntl')
def test_method_waits_for_a_warmup_another_process_holds(
        tmp_path, monkeypatch):
    """With the warm-up held by another process, its method does not start
    without it: it waits for the warm-up (here: trains it once released)."""
    import fcntl
    import threading
    import time

    from mmfusion.apis.task_gain import runner as task_gain_runner
    exp = task_gain_runner.TaskGainExperiment.__new__(
        task_gain_runner.TaskGainExperiment)
    lines, calls = [], []
    exp.trained = {}
    exp._log = lines.append
    exp.progress = Progress(
        str(tmp_path / 'timings.json'),
        lines.append,
        lock_dir=str(tmp_path / '.locks'))
    exp.cfg = load_preset(_preset())
    exp.work_dir, exp.quick, exp.fusion_seeds = str(tmp_path), False, [0]
    exp.only = {}

    def train_fusion(cfg, work_dir, name, log):
        calls.append(name)
        return f'{name}.pth', True

    def run_cfg(run):  # the real one fails without the warm-up's weights
        return run.warmup and exp.trained[run.warmup.name]

    monkeypatch.setattr(task_gain_runner, 'train_fusion', train_fusion)
    monkeypatch.setattr(exp, '_run_cfg', run_cfg)
    (tmp_path / '.locks').mkdir()
    held = open(tmp_path / '.locks' / 'train__B__warmup__seed_0.lock', 'a')
    fcntl.flock(held, fcntl.LOCK_EX)
    threading.Timer(0.5, fcntl.flock, (held, fcntl.LOCK_UN)).start()
    start = time.time()
    exp.stage_train()
    names = [r.name for r in exp.runs]
    assert names == ['A', 'A twin', 'B warm-up', 'B', 'B twin', 'C']
    # B's warm-up was left for later; B waited for it (released after
    # 0.5 s), trained it first, then itself; at the end the left unit ran
    # again (the real training finds itself done)
    assert lines[2] == ('train B warmup, fusion seed 0: another process '
                        'is on it; left for later')
    assert lines[3] == ('train B warmup, fusion seed 0: another process '
                        'is on it; waiting for it')
    assert calls == names + ['B warm-up']
    assert time.time() - start >= 0.5
    assert set(exp.trained) == set(names)
    held.close()


def test_paired_differences_and_table():
    names = ['A s0', 'A s1', 'A s2', 'T s0', 'T s1', 'T s2']
    result = TaskEvalResult(
        task_config='t.py',
        sources=[InputSource(n, 'vis') for n in names],
        seeds=[0, 1])
    # method = twin + 2 (+-1 by seed); IoU.bike absent from the test split
    for i, (a, t) in enumerate(zip([42.0, 40.0, 41.0], [40.0, 39.0, 38.0])):
        nan = float('nan')
        result.add(f'A s{i}', {
            0: {
                'mIoU': a,
                'IoU.bike': nan
            },
            1: {
                'mIoU': a,
                'IoU.bike': nan
            }
        })
        result.add(f'T s{i}', {
            0: {
                'mIoU': t,
                'IoU.bike': nan
            },
            1: {
                'mIoU': t,
                'IoU.bike': nan
            }
        })
    pairs = dict(
        A=dict(
            twin='T',
            seeds=[0, 1, 2],
            method_rows=['A s0', 'A s1', 'A s2'],
            twin_rows=['T s0', 'T s1', 'T s2']))
    paired = paired_differences(result, pairs, ['mIoU', 'IoU.bike'])
    d = paired['A']['metrics']['mIoU']
    assert d['n'] == 3 and d['mean'] == pytest.approx(2.0)
    # differences 2, 1, 3: sd 1, t(0.975, 2) = 4.3027
    assert d['ci_low'] == pytest.approx(2 - 4.302653 / math.sqrt(3), abs=1e-4)
    assert paired['A']['verdict'] == 'no effect detectable at this scale'
    assert 'IoU.bike' not in paired['A']['metrics']
    md = paired_table(paired)
    assert '| A − T | 3 | +2.00 [-0.48, +4.48] | ' \
        'no effect detectable at this scale |' in md
    assert 'verdict (mIoU)' in md


def test_report_metrics_and_detection_verdict():
    """A detection task (TarDAL's rows): the headline is VOC mAP@0.5, the
    per-class values are CocoMetric's classwise precisions, and the
    verdict is on the headline."""
    seg = ['aAcc', 'mIoU', 'mAcc', 'IoU.car', 'Acc.car']
    assert report_metrics(seg) == ('mIoU', ['aAcc', 'mIoU', 'IoU.car'])
    det = [
        'pascal_voc/mAP', 'pascal_voc/AP50', 'coco/bbox_mAP',
        'coco/bbox_mAP_50', 'coco/bbox_mAP_s', 'coco/person_precision',
        'coco/car_precision'
    ]
    head, kept = report_metrics(det)
    assert head == 'pascal_voc/mAP'
    assert kept == [
        'pascal_voc/mAP', 'pascal_voc/AP50', 'coco/bbox_mAP',
        'coco/bbox_mAP_50', 'coco/person_precision', 'coco/car_precision'
    ]
    result = TaskEvalResult(
        task_config='t.py',
        sources=[
            InputSource(n, 'vis') for n in ('A s0', 'A s1', 'T s0', 'T s1')
        ],
        seeds=[0])
    for name, value in (('A s0', 0.30), ('A s1', 0.32), ('T s0', 0.20),
                        ('T s1', 0.21)):
        result.add(name, {0: {'pascal_voc/mAP': value, 'mIoU': 0.0}})
    pairs = dict(
        A=dict(
            twin='T',
            seeds=[0, 1],
            method_rows=['A s0', 'A s1'],
            twin_rows=['T s0', 'T s1']))
    paired = paired_differences(result, pairs, [head], head)
    assert paired['A']['headline'] == head
    # differences 0.10, 0.11: CI [0.105 -+ 12.706 * 0.005]
    assert paired['A']['verdict'] == 'helps'
    assert f'verdict ({head})' in paired_table(paired)


def _warmup_cfg(data, max_iters):
    cfg = load_cfg(
        'configs/task_gain/bdlfusion_warmup_160x120.py', data, {
            'train_cfg.max_iters': max_iters,
            'train_cfg.val_interval': 100,
            'default_hooks.checkpoint.interval': 2,
            'default_hooks.checkpoint.max_keep_ckpts': 3,
            'train_dataloader.batch_size': 2,
        })
    return cfg


@pytest.mark.slow  # ~100 s at load 15 on 2 cores
def test_train_fusion_reuses_and_resumes(tmp_path):
    """In process, as the protocol trains: a finished training is reused, an
    interrupted one resumes from its last checkpoint, another config's run
    is moved aside."""
    work = str(tmp_path / 'run')
    logs = []
    data = prepare_dataset(
        osp.join(REPO, 'data', 'msrs_demo'), str(tmp_path / 'data'), (64, 48))
    cfg = _warmup_cfg(data, 4)
    ckpt, worked = train_fusion(cfg, work, 'warm', log=logs.append)
    assert worked and ckpt.endswith('iter_4.pth') and osp.isfile(ckpt)
    assert train_fusion(cfg, work, 'warm', log=logs.append) == (ckpt, False)
    assert 'warm: already trained' in logs[-1]
    # interrupted after iteration 2: resumed there, not started again
    os.remove(osp.join(work, TRAINED_FILE))
    os.remove(ckpt)
    with open(osp.join(work, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(work, 'iter_2.pth'))
    ckpt2, worked = train_fusion(cfg, work, 'warm', log=logs.append)
    assert worked and ckpt2 == ckpt and '(resumed)' in logs[-1]
    import torch
    state = torch.load(ckpt2, map_location='cpu', weights_only=False)
    assert state['meta']['iter'] == 4
    # another schedule: the old run is moved aside, a fresh one trained
    ckpt3, worked = train_fusion(
        _warmup_cfg(data, 2), work, 'warm', log=logs.append)
    assert worked and ckpt3.endswith('iter_2.pth')
    assert any(p.startswith('run.replaced-') for p in os.listdir(tmp_path))


@pytest.mark.slow
def test_later_stages_need_the_trainings(tmp_path):
    """--stages report on a fresh work dir: a clear error naming the first
    training that is missing (nothing is trained behind the user's back)."""
    from mmfusion.apis.task_gain import TaskGainExperiment
    preset = osp.join(REPO, 'configs', 'task_gain',
                      'task_gain_msrs_mini_cpu.py')
    exp = TaskGainExperiment(
        preset, work_dir=str(tmp_path), quick=True, stages=['report'])
    with pytest.raises(
            FileNotFoundError,
            match='TDFusion method, fusion seed 0 is not trained '
            'yet .*methods/TDFusion/seed_0/train.*train stage'):
        exp.run()
    assert not osp.exists(tmp_path / 'methods')
    with pytest.raises(ValueError, match=r"unknown methods \['TDFusoin'\]"):
        TaskGainExperiment(
            preset, work_dir=str(tmp_path), stages=['train:TDFusoin'])


@pytest.mark.parametrize(
    'preset,units',
    [
        ('task_gain_msrs_mini_cpu.py', 7),
        ('task_gain_msrs_mini_cpu320.py', 7),
        ('task_gain_msrs_gpu.py', 7),
        # TarDAL and its twin (detection)
        ('task_gain_msrs_mini_det_cpu.py', 2),
        ('task_gain_msrs_det_gpu.py', 2)
    ])
def test_shipped_presets_plan_methods_and_twins(preset, units):
    """Every shipped preset: its methods, each with a twin, under 3 fusion
    seeds (BDLFusion with its warm-up), every config present; where a config
    names a data root of the experiment's own copy, it is the preset's."""
    cfg = load_preset(osp.join(REPO, 'configs', 'task_gain', preset))
    assert cfg.fusion_seeds == [0, 1, 2] and len(cfg.seeds) >= 3
    runs = fusion_runs(cfg, 'w', False, cfg.fusion_seeds)
    assert len(runs) == 3 * units
    assert {
        r.role
        for r in runs
    } == ({'warmup', 'method', 'twin'} if units == 7 else {'method', 'twin'})
    size = cfg.data.get('size')
    own = None if size is None else \
        f'{cfg.work_dir}/data/{cfg.data.name}'
    for path in {r.config for r in runs} | {cfg.task_config}:
        run_cfg = load_cfg(path, None)
        roots = {
            run_cfg[k].dataset.data_root
            for k in ('train_dataloader', 'val_dataloader', 'test_dataloader')
            if run_cfg.get(k)
        }
        if own and any('work_dirs/task_gain' in r for r in roots):
            assert roots == {own}, (path, roots)
    quick = load_preset(
        osp.join(REPO, 'configs', 'task_gain', preset), quick=True)
    assert quick.work_dir != cfg.work_dir and quick.fusion_seeds == [0, 1]


def test_state_keeps_finished_units_small_and_restores_them(tmp_path):
    """save_state: finished units only, weights without optimizer or the
    in-loop task net (earlier checkpoints of a loss-generator run: the loss
    generator only); restore_state: back where the work dir lacks them,
    record paths absolute again, timings merged, nothing overwritten."""
    import torch
    work, state = tmp_path / 'work', tmp_path / 'state'
    weights = {
        'fusion_net.w': torch.randn(3),
        'loss_generator.w': torch.randn(2),
        'task.backbone.w': torch.randn(50)
    }
    done = work / 'methods' / 'TD' / 'seed_0' / 'train'
    os.makedirs(done)
    for it in (5, 10):
        torch.save(
            dict(
                meta=dict(iter=it),
                state_dict={
                    k: v * it
                    for k, v in weights.items()
                },
                optimizer=dict(state={})), done / f'iter_{it}.pth')
    (done / 'config.py').write_text('x = 1\n')
    (done / TRAINED_FILE).write_text(
        json.dumps(
            dict(config_hash='h', checkpoint=str(done / 'iter_10.pth'))))
    running = work / 'methods' / 'TD' / 'seed_1' / 'train'  # unfinished
    os.makedirs(running)
    torch.save(dict(state_dict=weights), running / 'iter_5.pth')
    task = work / 'task_eval' / 'VIS' / 'seed_0'
    os.makedirs(task)
    (task / 'task_metrics.json').write_text('{"metrics": {"mIoU": 1.0}}')
    (work / 'timings.json').write_text('{"a": 1.0, "b": 2.0}')

    saved = save_state(str(work), str(state))
    assert sorted(saved) == sorted([
        'timings.json', 'methods/TD/seed_0/train/iter_10.pth',
        'methods/TD/seed_0/train/iter_5.pth',
        'methods/TD/seed_0/train/config.py',
        f'methods/TD/seed_0/train/{TRAINED_FILE}',
        'task_eval/VIS/seed_0/task_metrics.json'
    ])
    final = torch.load(
        state / 'methods/TD/seed_0/train/iter_10.pth', weights_only=False)
    assert set(final) == {'meta', 'state_dict'}
    assert final['meta'] == dict(iter=10)
    assert sorted(final['state_dict']) == ['fusion_net.w', 'loss_generator.w']
    assert torch.equal(final['state_dict']['fusion_net.w'],
                       weights['fusion_net.w'] * 10)
    early = torch.load(
        state / 'methods/TD/seed_0/train/iter_5.pth', weights_only=False)
    assert list(early['state_dict']) == ['loss_generator.w']
    with open(state / 'methods/TD/seed_0/train' / TRAINED_FILE) as f:
        assert json.load(f)['checkpoint'] == \
            'methods/TD/seed_0/train/iter_10.pth'
    assert save_state(str(work), str(state)) == []  # nothing new

    new = tmp_path / 'new'
    os.makedirs(new)
    (new / 'timings.json').write_text('{"b": 3.0, "c": 4.0}')
    restored = restore_state(str(state), str(new))
    assert f'methods/TD/seed_0/train/{TRAINED_FILE}' in restored
    with open(new / 'methods/TD/seed_0/train' / TRAINED_FILE) as f:
        record = json.load(f)
    assert record == dict(
        config_hash='h',
        checkpoint=str(new / 'methods/TD/seed_0/train/iter_10.pth'))
    assert osp.isfile(record['checkpoint'])
    assert not (new / 'methods' / 'TD' / 'seed_1').exists()
    with open(new / 'timings.json') as f:
        assert json.load(f) == {'a': 1.0, 'b': 3.0, 'c': 4.0}
    assert json.loads(
        (new / 'task_eval/VIS/seed_0/task_metrics.json').read_text()) == \
        {'metrics': {'mIoU': 1.0}}
    # what the work dir has of its own stays
    (new / 'task_eval/VIS/seed_0/task_metrics.json').write_text('{}')
    restore_state(str(state), str(new))
    assert (new / 'task_eval/VIS/seed_0/task_metrics.json').read_text() == '{}'
