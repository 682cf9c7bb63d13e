"""The task-gain experiment end to end (``--quick``: the 12 bundled demo pairs
at 160x120, a few iterations per training, 2 seeds).

What is checked is the pipeline, not the numbers (meaningless at this size):
every method is trained with its strategy (checkpoints), every input x seed
gets its own task training and test, the report holds the task table with
mean and std over the seeds, the 14 fusion metrics of every input, the loss
generator study and the pictures; a re-run trains nothing again.
"""
import csv
import json
import math
import os
import os.path as osp
import subprocess
import sys

import cv2
import pytest

from mmfusion.apis.task_gain import fuse_with_rule, prepare_dataset

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'task_gain', 'task_gain_msrs_mini_cpu.py')
TOOL = osp.join(REPO, 'tools', 'analysis_tools', 'task_gain.py')
RELEASED = osp.join(
    osp.dirname(REPO), 'shared', 'reference', 'seafusion',
    'seafusion_official.pth')
METHODS = ['TDFusion', 'BDLFusion', 'SeAFusion']
FUSION_METRICS = [
    'EN', 'SD', 'SF', 'AG', 'MI', 'SCD', 'VIF', 'Qabf', 'SSIM', 'PSNR', 'MSE',
    'CC', 'Nabf', 'MS_SSIM'
]


def _run(work):
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONWARNINGS='ignore')
    return subprocess.run([
        sys.executable, TOOL, CONFIG, '--quick', '--work-dir',
        str(work), '--device', 'cpu'
    ],
                          cwd=REPO,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=1200)


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


def test_task_gain_quick(tmp_path):
    _check_quick(tmp_path / 'tg')


def _check_quick(work):
    run = _run(work)
    assert run.returncode == 0, (run.stdout[-3000:], run.stderr[-3000:])
    released = osp.isfile(RELEASED)
    inputs = ['VIS', 'IR', 'Max rule'] + \
        (['SeAFusion (released)'] if released else []) + METHODS

    # every method trained with its own strategy
    for name in METHODS:
        with open(work / 'methods' / name / 'train' / 'trained.json') as f:
            assert osp.isfile(json.load(f)['checkpoint'])
    warm = work / 'methods' / 'BDLFusion' / 'warmup' / 'trained.json'
    assert warm.is_file()
    bdl_cfg = (work / 'methods' / 'BDLFusion' / 'train' /
               'config.py').read_text()
    assert 'Pretrained' in bdl_cfg and 'warmup' in bdl_cfg

    # every input x seed: its own task training and test
    for name in inputs:
        slug = name.replace(' ', '_').replace('(', '').replace(')', '')
        for seed in (0, 1):
            path = work / 'task_eval' / slug.strip('_') / f'seed_{seed}' / \
                'task_metrics.json'
            with open(path) as f:
                saved = json.load(f)
            assert saved['seed'] == seed
            assert 0 <= saved['metrics']['mIoU'] <= 100

    with open(work / 'task_gain.json') as f:
        report = json.load(f)
    assert report['quick'] is True and report['seeds'] == [0, 1]
    assert [i['name'] for i in report['inputs']] == inputs
    for name in inputs:
        runs = report['task']['runs'][name]
        assert set(runs) == {'0', '1'}
        values = [runs[s]['mIoU'] for s in ('0', '1')]
        mean = report['task']['mean'][name]['mIoU']
        assert mean == pytest.approx(sum(values) / 2)
        std = report['task']['std'][name]['mIoU']
        assert std == pytest.approx(abs(values[0] - values[1]) / math.sqrt(2))
        assert set(report['fusion_metrics'][name]) == set(FUSION_METRICS)
    # the fused inputs are different images
    ens = {n: report['fusion_metrics'][n]['EN'] for n in inputs}
    assert len(set(ens.values())) == len(inputs)
    study = report['loss_generator']['TDFusion']
    assert study[0]['checkpoint'] == 'initialisation'
    assert [r['checkpoint']
            for r in study[1:]] == ['iter_10.pth', 'iter_20.pth']
    for r in study:
        assert 0 < r['w_ir_all'] < 1
    assert not released or report['missing'] == {}

    md = (work / 'task_gain.md').read_text()
    assert '--quick' in md and 'mean ± sample std' in md
    for name in inputs:
        assert f'| {name} |' in md
    assert 'What the loss generator of TDFusion learned' in md
    with open(work / 'task_gain.csv') as f:
        rows = list(csv.DictReader(f))
    assert [r['input'] for r in rows] == inputs
    assert {'mIoU', 'mIoU_std', 'EN', 'Qabf'} <= set(rows[0])
    plot = cv2.imread(str(work / 'task_gain.png'))
    grid = cv2.imread(str(work / 'task_gain_grid.png'))
    assert plot is not None and grid is not None
    # 2 rows of pairs, VIS | IR | fused inputs | TDFusion's weight map
    assert grid.shape[0] >= 2 * 120 and grid.shape[1] >= (len(inputs) +
                                                          1) * 160

    # re-run: nothing trained again
    again = _run(work)
    assert again.returncode == 0, again.stderr[-3000:]
    log = again.stdout + again.stderr
    assert log.count('already trained') == 4  # 3 methods + the warm-up
    assert log.count('already done') == 2 * len(inputs)
