"""The task-gain experiment end to end (``--quick``: the 12 bundled demo pairs
at 160x120, a few iterations per training, methods and their task-free twins
under 2 fusion seeds, 1 protocol seed).

What is checked is the pipeline, not the numbers (meaningless at this size):
every method and twin is trained with its strategy under each fusion seed
(the twin from the method's warm-up), every trained net and input gets its
own task training and test, the report holds the task table, the paired
differences method - twin with their CI and verdict, the 14 fusion metrics
of every input, the loss generator study and the pictures, the progress
lines count the planned units; a re-run trains nothing again.
The package piece by piece: tests/test_apis/test_task_gain_package.py.
"""
import csv
import json
import os
import os.path as osp
import subprocess
import sys

import cv2
import pytest
import torch
from mmengine.config import Config

from mmfusion.apis.task_gain import fuse_with_rule, prepare_dataset

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'task_gain', 'task_gain_msrs_mini_cpu.py')
TOOL = osp.join(REPO, 'tools', 'analysis_tools', 'task_gain.py')
RELEASED = osp.join(
    osp.dirname(REPO), 'shared', 'reference', 'seafusion',
    'seafusion_official.pth')
METHODS = ['TDFusion', 'BDLFusion', 'SeAFusion']
FUSION_SEEDS = (0, 1)
VERDICTS = ('helps', 'no effect detectable at this scale', 'hurts')
FUSION_METRICS = [
    'EN', 'SD', 'SF', 'AG', 'MI', 'SCD', 'VIF', 'Qabf', 'SSIM', 'PSNR', 'MSE',
    'CC', 'Nabf', 'MS_SSIM'
]


def _run(work, *args, config=CONFIG):
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONWARNINGS='ignore')
    return subprocess.run([
        sys.executable, TOOL, config, '--quick', '--work-dir',
        str(work), '--device', 'cpu', *args
    ],
                          cwd=REPO,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=2400)


def test_prepare_dataset_and_rule(tmp_path):
    src = osp.join(REPO, 'data', 'msrs_demo')
    dest = prepare_dataset(src, str(tmp_path / 'd'), (80, 60))
    name = sorted(os.listdir(osp.join(src, 'train', 'ir')))[0]
    ir = cv2.imread(osp.join(dest, 'train', 'ir', name), cv2.IMREAD_UNCHANGED)
    seg = cv2.imread(
        osp.join(dest, 'train', 'Segmentation_labels', name),
        cv2.IMREAD_UNCHANGED)
    assert ir.shape == seg.shape == (60, 80)
    full = cv2.imread(
        osp.join(src, 'train', 'Segmentation_labels', name),
        cv2.IMREAD_UNCHANGED)
    # nearest: no label id that the original does not have
    assert set(seg.ravel()) <= set(full.ravel())
    out = fuse_with_rule(
        osp.join(dest, 'train', 'ir'), osp.join(dest, 'train', 'vi'),
        str(tmp_path / 'max'))
    assert len(out) == 8
    fused = cv2.imread(out[0], cv2.IMREAD_COLOR)
    vis = cv2.imread(
        osp.join(dest, 'train', 'vi', osp.basename(out[0])), cv2.IMREAD_COLOR)
    ir = cv2.imread(
        osp.join(dest, 'train', 'ir', osp.basename(out[0])),
        cv2.IMREAD_GRAYSCALE)
    y = cv2.cvtColor(fused, cv2.COLOR_BGR2GRAY).astype(int)
    # the max rule is at least as bright as both sources (within rounding
    # of the colour round trip and clamping)
    assert (y >= ir.astype(int) - 3).mean() > 0.97
    assert (y >= cv2.cvtColor(vis, cv2.COLOR_BGR2GRAY) - 3).mean() > 0.97
    with pytest.raises(FileNotFoundError, match='does not exist'):
        prepare_dataset(str(tmp_path / 'nowhere'), str(tmp_path / 'x'))


def test_prepare_dataset_is_whole_or_absent(tmp_path):
    """The copy is made under a temporary name and moved into place whole
    (mmfusion.utils.fileio.atomic_path): a failed run leaves the previous
    copy as it was and no partial folder; a new one moves the old aside."""
    src = tmp_path / 'src'
    demo = osp.join(REPO, 'data', 'msrs_demo')
    for split in ('train', 'test'):
        for sub in ('ir', 'vi'):
            os.makedirs(src / split / sub)
            name = sorted(os.listdir(osp.join(demo, split, sub)))[0]
            os.symlink(
                osp.join(demo, split, sub, name), src / split / sub / name)
    dest = str(tmp_path / 'out' / 'd')
    prepare_dataset(str(src), dest, (80, 60))
    before = sorted(os.listdir(osp.join(dest, 'test', 'ir')))
    (src / 'test' / 'ir' / 'broken.png').write_bytes(b'not an image')
    with pytest.raises(ValueError, match='broken.png'):
        prepare_dataset(str(src), dest, (80, 60))
    assert os.listdir(tmp_path / 'out') == ['d']
    assert sorted(os.listdir(osp.join(dest, 'test', 'ir'))) == before
    os.remove(src / 'test' / 'ir' / 'broken.png')
    prepare_dataset(str(src), dest, (40, 30))
    assert cv2.imread(osp.join(dest, 'test', 'ir', before[0])).shape[:2] == \
        (30, 40)
    assert sorted(os.listdir(tmp_path / 'out'))[0] == 'd'
    assert sorted(os.listdir(tmp_path / 'out'))[1].startswith('d.replaced-')


@pytest.mark.slow(minutes=5)  # 14 fusion trainings, 16 task runs
def test_task_gain_quick(tmp_path):
    _check_quick(tmp_path / 'tg')


def _slug(name):
    return name.replace(' ', '_').replace('(', '').replace(')', '').strip('_')


def _check_quick(work):
    state = work.parent / 'state'
    run = _run(work, '--state-dir', str(state))
    assert run.returncode == 0, (run.stdout[-3000:], run.stderr[-3000:])
    released = osp.isfile(RELEASED)
    nets = [
        f'{m}{twin} s{s}' for s in FUSION_SEEDS for m in METHODS
        for twin in ('', ' twin')
    ]
    inputs = ['VIS', 'IR', 'Max rule'] + \
        (['SeAFusion (released)'] if released else []) + nets
    log = run.stdout + run.stderr
    # a progress line per unit: 3 + 14 trainings + 1 + 16 task runs + 3
    total = 3 + 14 + 1 + len(inputs) + 3
    assert f'[{total}/{total}] report: loss generator' in log
    assert 'left ~' in log and 'elapsed' in log

    # every method and twin trained under every fusion seed; the twin of
    # BDLFusion starts from the same warm-up checkpoint as the method
    for seed in FUSION_SEEDS:
        for name in METHODS:
            for twin in ('', '_twin'):
                with open(work / 'methods' / f'{name}{twin}' / f'seed_{seed}' /
                          'train' / 'trained.json') as f:
                    assert osp.isfile(json.load(f)['checkpoint'])
        warm = work / 'methods' / 'BDLFusion' / f'seed_{seed}' / 'warmup'
        with open(warm / 'trained.json') as f:
            warm_ckpt = json.load(f)['checkpoint']
        for name in ('BDLFusion', 'BDLFusion_twin'):
            cfg = Config.fromfile(
                str(work / 'methods' / name / f'seed_{seed}' / 'train' /
                    'config.py'))
            assert cfg.model.fusion_net.init_cfg.checkpoint == warm_ckpt
            assert cfg.randomness.seed == seed
    twin_cfg = Config.fromfile(
        str(work / 'methods' / 'TDFusion_twin' / 'seed_0' / 'train' /
            'config.py'))
    assert twin_cfg.model.loss_generator.type == 'ConstantLossGenerator'

    # every input: its own task training and test (1 protocol seed)
    for name in inputs:
        with open(work / 'task_eval' / _slug(name) / 'task_metrics.json') as f:
            saved = json.load(f)
        assert saved['seed'] == 0
        assert 0 <= saved['metrics']['mIoU'] <= 100
        # (run under its lock: processes running the command share units)
        assert (work / '.locks' /
                f'task__{_slug(name)}__seed_0.lock').is_file()
    assert (work / '.locks' /
            'train__BDLFusion__warmup__seed_0.lock').is_file()

    with open(work / 'task_gain.json') as f:
        report = json.load(f)
    assert report['quick'] is True and report['seeds'] == [0]
    assert report['fusion_seeds'] == list(FUSION_SEEDS)
    assert [i['name'] for i in report['inputs']] == inputs
    mean = report['task']['mean']
    for name in inputs:
        assert set(report['task']['runs'][name]) == {'0'}
        assert set(report['fusion_metrics'][name]) == set(FUSION_METRICS)
    # paired differences: method - twin over the 2 fusion seeds
    assert list(report['paired']) == METHODS
    for name in METHODS:
        paired = report['paired'][name]
        assert paired['twin'] == f'{name} twin'
        d = paired['metrics']['mIoU']
        diffs = [
            mean[f'{name} s{s}']['mIoU'] - mean[f'{name} twin s{s}']['mIoU']
            for s in FUSION_SEEDS
        ]
        assert d['n'] == 2 and d['diffs'] == pytest.approx(diffs)
        assert d['mean'] == pytest.approx(sum(diffs) / 2)
        if diffs[0] != diffs[1]:
            assert d['ci_low'] < d['mean'] < d['ci_high']
        assert paired['verdict'] in VERDICTS
    # every trained net has its own weights (twin vs method, seed vs seed;
    # the fused images of a few iterations can saturate to the same uint8)
    weights = {}
    for seed in FUSION_SEEDS:
        for name in METHODS:
            for twin in ('', '_twin'):
                with open(work / 'methods' / f'{name}{twin}' / f'seed_{seed}' /
                          'train' / 'trained.json') as f:
                    ckpt = torch.load(
                        json.load(f)['checkpoint'],
                        map_location='cpu',
                        weights_only=False)['state_dict']
                weights[f'{name}{twin} s{seed}'] = torch.cat([
                    v.flatten().double() for k, v in sorted(ckpt.items())
                    if k.startswith('fusion_net.') and v.is_floating_point()
                ])
    names = sorted(weights)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if weights[a].shape == weights[b].shape:
                assert not torch.equal(weights[a], weights[b]), (a, b)
    study = report['loss_generator']['TDFusion s0']
    assert list(report['loss_generator']) == ['TDFusion s0']
    assert study[0]['checkpoint'] == 'initialisation'
    assert [r['checkpoint']
            for r in study[1:]] == ['iter_5.pth', 'iter_10.pth']
    for r in study:
        assert 0 < r['w_ir_all'] < 1
    assert not released or report['missing'] == {}

    md = (work / 'task_gain.md').read_text()
    assert '--quick' in md
    for name in inputs:
        assert f'| {name} |' in md
    assert '## The task-driven part: method − twin' in md
    for name in METHODS:
        assert f'| {name} − {name} twin | 2 | ' in md
    assert 'What the loss generator of TDFusion s0 learned' in md
    with open(work / 'task_gain.csv') as f:
        rows = list(csv.DictReader(f))
    assert [r['input'] for r in rows] == inputs
    assert {'mIoU', 'mIoU_std', 'EN', 'Qabf'} <= set(rows[0])
    plot = cv2.imread(str(work / 'task_gain.png'))
    grid = cv2.imread(str(work / 'task_gain_grid.png'))
    assert plot is not None and grid is not None
    # 2 rows of pairs, VIS | IR | the fused inputs of fusion seed 0 |
    # TDFusion's weight map
    shown = len(inputs) - len(nets) // 2
    assert grid.shape[0] >= 2 * 120 and grid.shape[1] >= (shown + 1) * 160

    # the state dir: every finished unit, weights only and without the
    # in-loop task net (TDFusion's earlier checkpoints: the loss generator)
    ckpts = [
        osp.join(r, f) for r, _, fs in os.walk(state) for f in fs
        if f.endswith('.pth')
    ]
    assert len(ckpts) == 14 + 2 * 1  # + iter_5 of TDFusion s0, s1
    for path in ckpts:
        saved = torch.load(path, map_location='cpu', weights_only=False)
        assert set(saved) == {'meta', 'state_dict'}
        assert saved['state_dict']
        assert not any(k.startswith('task.') for k in saved['state_dict'])
    assert sum(os.path.getsize(p) for p in ckpts) < 0.2 * sum(
        os.path.getsize(osp.join(r, f)) for r, _, fs in os.walk(work)
        for f in fs if f.endswith('.pth'))

    # re-run on a new machine (the work dir gone, the state dir committed;
    # without the report stage, which the first run has checked): nothing
    # trained again, the same task results
    import shutil
    table = (work / 'task_eval' / 'task_eval.csv').read_text()
    shutil.rmtree(work)
    again = _run(work, '--state-dir', str(state), '--stages', 'train',
                 'task_eval')
    assert again.returncode == 0, again.stderr[-3000:]
    log = again.stdout + again.stderr
    assert log.count('already trained') == 14  # 6 nets + a warm-up, x 2
    assert log.count('already done') == len(inputs)
    assert '(done before)' in log
    assert (work / 'task_eval' / 'task_eval.csv').read_text() == table


DET_CONFIG = osp.join(REPO, 'configs', 'task_gain',
                      'task_gain_msrs_mini_det_cpu.py')
TARDAL_RELEASED = osp.join(
    osp.dirname(REPO), 'shared', 'reference', 'tardal', 'weights', 'tardal.pt')


@pytest.mark.slow(minutes=2)  # 4 TarDAL trainings, 7-8 detector runs
def test_task_gain_quick_detection(tmp_path):
    """The detection preset (issue 25): TarDAL and its twin under 2 fusion
    seeds, a fresh detector per input; the report's verdict is on VOC
    mAP@0.5."""
    work = tmp_path / 'det'
    run = _run(work, config=DET_CONFIG)
    assert run.returncode == 0, (run.stdout[-3000:], run.stderr[-3000:])
    nets = [f'TarDAL{t} s{s}' for s in FUSION_SEEDS for t in ('', ' twin')]
    inputs = ['VIS', 'IR', 'Max rule'] + (
        ['TarDAL (released)'] if osp.isfile(TARDAL_RELEASED) else []) + nets
    with open(work / 'task_gain.json') as f:
        report = json.load(f)
    assert [i['name'] for i in report['inputs']] == inputs
    assert report['headline'] == 'pascal_voc/mAP'
    for name in inputs:
        with open(work / 'task_eval' / _slug(name) / 'task_metrics.json') as f:
            assert 0 <= json.load(f)['metrics']['pascal_voc/mAP'] <= 1
    paired = report['paired']['TarDAL']
    assert paired['twin'] == 'TarDAL twin' and paired['seeds'] == [0, 1]
    assert paired['metrics']['pascal_voc/mAP']['n'] == 2
    assert paired['verdict'] in VERDICTS
    for seed in FUSION_SEEDS:
        cfg = Config.fromfile(
            str(work / 'methods' / 'TarDAL' / f'seed_{seed}' / 'train' /
                'config.py'))
        assert cfg.model.task_to_fusion is True
        twin = Config.fromfile(
            str(work / 'methods' / 'TarDAL_twin' / f'seed_{seed}' / 'train' /
                'config.py'))
        assert twin.model.task is None and twin.randomness.seed == seed
    md = (work / 'task_gain.md').read_text()
    assert '| TarDAL − TarDAL twin | 2 | ' in md
    assert 'verdict (pascal_voc/mAP)' in md
