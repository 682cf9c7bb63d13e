# Copyright (c) mmfusion contributors. All rights reserved.
"""Task-driven evaluation (tools/task_eval.py): a fresh task model trained
and tested per input source (VIS, IR, an mmfusion checkpoint, an external
folder), reported side by side."""
import copy
import csv
import json
import math
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import save_checkpoint

from mmfusion.apis.task_driven import (InputSource, TaskDrivenEvaluation,
                                       TaskEvalResult, default_plot_metrics,
                                       modality_loaders, resolve_fused_folder,
                                       write_task_report)
from mmfusion.registry import MODELS

SIZE = (160, 120)  # (w, h): msrs_mini pairs at 1/4 scale keep the test fast
SPLITS = dict(train=8, test=4)
FUSION_CONFIG = 'configs/seafusion/seafusion_content_demo.py'
TASK_CONFIG = 'configs/task_eval/task_eval_demo.py'


@pytest.fixture(scope='module')
def small_msrs(msrs_mini, tmp_path_factory):
    """Real MSRS pairs (official layout) at 160x120: the first pairs with
    objects of each split; labels resized with nearest neighbour."""
    root = str(tmp_path_factory.mktemp('msrs_small'))
    for split, n in SPLITS.items():
        src = osp.join(msrs_mini, split)
        names = []
        for name in sorted(os.listdir(osp.join(src, 'Segmentation_labels'))):
            mask = cv2.imread(osp.join(src, 'Segmentation_labels', name), 0)
            if mask.max() > 0:
                names.append(name)
            if len(names) == n:
                break
        for sub, flag, interp in (('ir', 0, cv2.INTER_AREA), ('vi', 1,
                                                              cv2.INTER_AREA),
                                  ('Segmentation_labels', 0,
                                   cv2.INTER_NEAREST)):
            os.makedirs(osp.join(root, split, sub))
            for name in names:
                img = cv2.imread(osp.join(src, sub, name), flag)
                cv2.imwrite(
                    osp.join(root, split, sub, name),
                    cv2.resize(img, SIZE, interpolation=interp))
    return root


def _max_fusion(root, out, flat=True):
    """An 'external method': the pixel-wise maximum of IR and VIS gray,
    in one flat folder (flat) or one sub-folder per split."""
    for split in SPLITS:
        folder = out if flat else osp.join(out, split)
        os.makedirs(folder, exist_ok=True)
        for name in os.listdir(osp.join(root, split, 'ir')):
            ir = cv2.imread(osp.join(root, split, 'ir', name), 0)
            vis = cv2.imread(osp.join(root, split, 'vi', name), 0)
            cv2.imwrite(osp.join(folder, name), np.maximum(ir, vis))
    return out


def _task_config(repo_root, small_msrs, tmp_path):
    """The shipped demo task config on the small pairs."""
    path = str(tmp_path / 'task_small.py')
    with open(path, 'w') as f:
        f.write(f"""_base_ = [{osp.join(repo_root, TASK_CONFIG)!r}]
data_root = {small_msrs!r}
scale = {SIZE!r}
train_pipeline = [
    dict(type='mmfusion.LoadModalityImage', modality='vis'),
    dict(type='mmseg.LoadAnnotations'),
    dict(type='mmseg.RandomFlip', prob=0.5),
    dict(type='mmseg.PackSegInputs'),
]
test_pipeline = [
    dict(type='mmfusion.LoadModalityImage', modality='vis'),
    dict(type='mmseg.LoadAnnotations'),
    dict(type='mmseg.PackSegInputs'),
]
model = dict(data_preprocessor=dict(size=(128, 160)))
train_dataloader = dict(
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
train_cfg = dict(max_iters=6, val_interval=6)
param_scheduler = [dict(type='PolyLR', power=0.9, begin=0, end=6,
                        by_epoch=False)]
default_hooks = dict(checkpoint=dict(interval=3), logger=dict(interval=1))
""")
    return path


def _checkpoint(repo_root, tmp_path):
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmfusion'):
        model = MODELS.build(
            Config.fromfile(osp.join(repo_root, FUSION_CONFIG)).model)
    path = str(tmp_path / 'seafusion_demo.pth')
    save_checkpoint({'state_dict': model.state_dict()}, path)
    return path


def _run_tool(repo_root, args, cwd):
    env = dict(os.environ, PYTHONWARNINGS='ignore', OMP_NUM_THREADS='1')
    return subprocess.run(
        [sys.executable,
         osp.join(repo_root, 'tools', 'task_eval.py')] + args,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600)


def _train_losses(work_dir):
    """The task losses a run logged, in order."""
    runs = sorted(d for d in os.listdir(work_dir) if d[:8].isdigit())
    path = osp.join(work_dir, runs[0], 'vis_data', 'scalars.json')
    with open(path) as f:
        rows = [json.loads(line) for line in f]
    return [r['loss'] for r in rows if 'loss' in r]


@pytest.mark.slow
def test_task_eval_end_to_end(repo_root, small_msrs, tmp_path):
    """One command: VIS and IR baselines, a checkpoint and an external
    folder; then a re-run reuses everything; then bad input is refused
    before any training."""
    cfg = _task_config(repo_root, small_msrs, tmp_path)
    ckpt = _checkpoint(repo_root, tmp_path)
    external = _max_fusion(small_msrs, str(tmp_path / 'max_rule'))
    work = tmp_path / 'work'
    args = [
        cfg, '--model', 'SeAFusion',
        osp.join(repo_root, FUSION_CONFIG), ckpt, '--fused',
        f'Max rule={external}', '--work-dir',
        str(work), '--device', 'cpu'
    ]
    run = _run_tool(repo_root, args, str(tmp_path))
    assert run.returncode == 0, run.stderr[-3000:]

    names = ['VIS', 'IR', 'SeAFusion', 'Max rule']
    slugs = ['VIS', 'IR', 'SeAFusion', 'Max_rule']
    # the checkpoint's fused images: every pair of both splits, pair size
    for split, n in SPLITS.items():
        folder = work / 'fused' / 'SeAFusion' / split / 'vi'
        files = sorted(os.listdir(folder))
        assert len([f for f in files if f.endswith('.png')]) == n
        img = cv2.imread(str(folder / files[-1]), cv2.IMREAD_UNCHANGED)
        assert img.shape[:2] == (SIZE[1], SIZE[0])
    # one task run per source, each with its own metrics
    saved = {}
    for name, slug in zip(names, slugs):
        with open(work / slug / 'task_metrics.json') as f:
            saved[name] = json.load(f)
        metrics = saved[name]['metrics']
        assert 0 <= metrics['mIoU'] <= 100 and 0 < metrics['aAcc'] <= 100
        assert {'IoU.unlabelled', 'IoU.car', 'IoU.person'} <= set(metrics)
    # the inputs really differ: same seed, same data order, different losses
    losses = {s: _train_losses(str(work / s)) for s in slugs}
    assert all(len(v) == 6 for v in losses.values())
    assert len({tuple(v) for v in losses.values()}) == 4
    # the report: markdown, CSV, JSON and the bar plots
    with open(work / 'task_eval.csv') as f:
        rows = list(csv.DictReader(f))
    assert [r['input'] for r in rows] == names
    for r in rows:
        assert float(r['mIoU']) == pytest.approx(
            saved[r['input']]['metrics']['mIoU'])
    with open(work / 'task_eval.json') as f:
        report = json.load(f)
    assert report['metrics']['IR'] == saved['IR']['metrics']
    assert report['seed'] == 0
    md = (work / 'task_eval.md').read_text()
    for name in names:
        assert f'| {name} |' in md
    assert 'IoU.person' in md and 'Acc.person' not in md
    for plot in ('task_eval.png', 'task_eval_per_class.png'):
        assert cv2.imread(str(work / plot)) is not None
    assert run.stdout.count('| VIS |') == 2  # summary and per-class tables

    # re-run: nothing is fused or trained again, same report
    again = _run_tool(repo_root, args, str(tmp_path))
    assert again.returncode == 0, again.stderr[-3000:]
    log = again.stdout + again.stderr
    assert log.count('already done') == 4 and 'fusing' not in log
    with open(work / 'task_eval.json') as f:
        assert json.load(f) == report

    # an interrupted training resumes from its last checkpoint
    ir = work / 'IR'
    os.remove(ir / 'task_metrics.json')
    os.remove(ir / 'iter_6.pth')
    (ir / 'last_checkpoint').write_text(str(ir / 'iter_3.pth'))
    # ... and an input whose fused images changed is trained again
    victim = osp.join(external, sorted(os.listdir(external))[0])
    cv2.imwrite(victim, 255 - cv2.imread(victim, 0))
    resumed = _run_tool(repo_root, args, str(tmp_path))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    log = resumed.stdout + resumed.stderr
    assert log.count('resumed epoch: 0, iter: 3') == 1  # IR only
    assert log.count('already done') == 2
    assert "'VIS' already done" in log and "'SeAFusion' already done" in log
    # the changed input trained anew (all 6 iterations, not a resume of its
    # finished run); its old run was moved aside, not deleted
    assert _train_losses(str(work / 'Max_rule')) != losses['Max_rule']
    assert len(_train_losses(str(work / 'Max_rule'))) == 6
    aside = [d for d in os.listdir(work) if d.startswith('Max_rule.replaced')]
    assert len(aside) == 1
    assert _train_losses(str(work / aside[0])) == losses['Max_rule']
    with open(ir / 'task_metrics.json') as f:
        assert set(json.load(f)['metrics']) == set(saved['IR']['metrics'])

    # an external folder missing one pair's image: refused before training,
    # naming the file
    broken = _max_fusion(small_msrs, str(tmp_path / 'broken'), flat=False)
    victim = sorted(os.listdir(osp.join(broken, 'train')))[2]
    os.remove(osp.join(broken, 'train', victim))
    bad = _run_tool(
        repo_root,
        [cfg, '--baselines', '--fused', broken, '--work-dir',
         str(work)], str(tmp_path))
    assert bad.returncode == 2
    assert victim in bad.stderr and osp.join(broken, 'train') in bad.stderr
    assert not osp.exists(work / 'broken')  # named after the folder


def test_resolve_fused_folder(tmp_path):
    flat = tmp_path / 'flat'
    flat.mkdir()
    assert resolve_fused_folder(str(flat), 'train/vi') == str(flat)
    split = tmp_path / 'split'
    (split / 'train').mkdir(parents=True)
    (split / 'test').mkdir()
    assert resolve_fused_folder(str(split), 'test/vi') == str(split / 'test')
    assert resolve_fused_folder(str(split), 'Vis') == str(split)
    mirror = tmp_path / 'mirror'
    (mirror / 'test' / 'vi').mkdir(parents=True)
    assert resolve_fused_folder(str(mirror),
                                'test/vi') == str(mirror / 'test' / 'vi')
    with pytest.raises(FileNotFoundError, match='nowhere'):
        resolve_fused_folder(str(tmp_path / 'nowhere'), 'test/vi')


def test_task_config_checks(repo_root, small_msrs, tmp_path):
    cfg = Config.fromfile(_task_config(repo_root, small_msrs, tmp_path))
    assert set(modality_loaders(cfg)) == {
        'train_dataloader', 'val_dataloader', 'test_dataloader'
    }
    plain = copy.deepcopy(cfg)
    plain.val_dataloader.dataset.pipeline = [
        dict(type='mmseg.LoadImageFromFile'),
        dict(type='mmseg.PackSegInputs')
    ]
    with pytest.raises(ValueError, match='val_dataloader.*LoadModalityImage'):
        modality_loaders(plain)
    no_train = copy.deepcopy(cfg)
    no_train.pop('train_dataloader')
    with pytest.raises(ValueError, match='train_dataloader'):
        modality_loaders(no_train)
    # sources
    with pytest.raises(ValueError, match='either a folder'):
        InputSource('x', 'fused')
    with pytest.raises(ValueError, match='both its config and'):
        InputSource('x', 'fused', model_config='a.py')
    with pytest.raises(ValueError, match='modality'):
        InputSource('x', 'rgb')
    with pytest.raises(ValueError, match='distinct names'):
        TaskDrivenEvaluation(cfg, [InputSource.baseline('vis')] * 2,
                             str(tmp_path))
    missing = TaskDrivenEvaluation(cfg, [
        InputSource('m', 'fused', model_config='nope.py', checkpoint='x.pth')
    ], str(tmp_path / 'w'))
    with pytest.raises(FileNotFoundError, match='nope.py'):
        missing.check()


def test_variant_config(repo_root, small_msrs, tmp_path):
    cfg = Config.fromfile(_task_config(repo_root, small_msrs, tmp_path))
    folder = _max_fusion(small_msrs, str(tmp_path / 'split'), flat=False)
    sources = [
        InputSource.baseline('ir'),
        InputSource('Max rule', 'fused', fused_dir=folder)
    ]
    evaluation = TaskDrivenEvaluation(
        cfg, sources, str(tmp_path / 'w'), seed=7)
    evaluation.check()
    assert evaluation.num_pairs['train_dataloader:train/vi'] == 8
    ir = evaluation.variant_config(sources[0])
    fused = evaluation.variant_config(sources[1])
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert ir[key].dataset.pipeline[0].modality == 'ir'
        assert 'fused' not in ir[key].dataset.data_prefix
        assert fused[key].dataset.pipeline[0].modality == 'fused'
    assert fused.train_dataloader.dataset.data_prefix.fused == osp.join(
        folder, 'train')
    assert fused.test_dataloader.dataset.data_prefix.fused == osp.join(
        folder, 'test')
    assert ir.work_dir == osp.join(str(tmp_path / 'w'), 'IR')
    assert fused.work_dir == osp.join(str(tmp_path / 'w'), 'Max_rule')
    assert ir.randomness.seed == fused.randomness.seed == 7
    # two runs of the same source in one process get their own instances
    assert evaluation.variant_config(
        sources[0]).experiment_name != ir.experiment_name
    assert ir.visualizer.name == ir.experiment_name
    # the base config is untouched
    assert cfg.train_dataloader.dataset.pipeline[0].modality == 'vis'


def test_report(tmp_path):
    sources = [
        InputSource.baseline('vis'),
        InputSource.baseline('ir'),
        InputSource('M', 'fused', fused_dir='/some/dir')
    ]
    result = TaskEvalResult(
        task_config='cfg.py',
        sources=sources,
        seed=0,
        rows={
            'VIS': {
                'aAcc': 90.0,
                'mIoU': 40.0,
                'IoU.car': 50.0,
                'IoU.bump': float('nan')
            },
            'IR': {
                'aAcc': 88.0,
                'mIoU': 35.5,
                'IoU.car': 60.0,
                'IoU.bump': float('nan')
            },
            'M': {
                'aAcc': 91.0,
                'mIoU': 42.25,
                'IoU.car': 55.0,
                'IoU.bump': float('nan')
            },
        })
    md = write_task_report(result, str(tmp_path))
    assert '| M | **91.00** | **42.25** |' in md
    assert '| IR | 88.00 | 35.50 |' in md
    assert '| IR | **60.00** | nan |' in md
    assert '`/some/dir`' in md
    with open(tmp_path / 'task_eval.csv') as f:
        rows = list(csv.reader(f))
    assert rows[0] == [
        'input', 'source', 'aAcc', 'mIoU', 'IoU.car', 'IoU.bump'
    ]
    assert rows[3][:4] == ['M', 'fused images in `/some/dir`', '91.0', '42.25']
    assert osp.isfile(tmp_path / 'task_eval.png')
    assert osp.isfile(tmp_path / 'task_eval_per_class.png')
    with pytest.warns(UserWarning, match='cannot plot'):
        write_task_report(result, str(tmp_path), plot_metrics=['mAP'])
    assert default_plot_metrics(['aAcc', 'mIoU', 'mAcc']) == ['mIoU']
    assert default_plot_metrics(['pascal_voc/mAP', 'pascal_voc/AP50'
                                 ]) == ['pascal_voc/mAP', 'pascal_voc/AP50']
    assert default_plot_metrics(
        ['coco/bbox_mAP', 'coco/bbox_mAP_50',
         'coco/bbox_mAP_l']) == ['coco/bbox_mAP', 'coco/bbox_mAP_50']
    assert default_plot_metrics(['acc']) == ['acc']


def test_fusion_plan_keeps_splits_apart(repo_root, small_msrs, tmp_path):
    """Two splits under different data roots with the same VIS prefix and
    the same file names get separate fused folders; every pair of a split
    is fused, whatever the dataloader's ``indices``/filters keep."""
    import shutil
    roots = {}
    names = sorted(os.listdir(osp.join(small_msrs, 'train', 'ir')))[:4]
    for split in SPLITS:
        root = str(tmp_path / f'root_{split}')
        src_names = sorted(os.listdir(osp.join(small_msrs, split, 'ir')))[:4]
        for sub in ('ir', 'vi', 'Segmentation_labels'):
            os.makedirs(osp.join(root, sub))
            for src, dst in zip(src_names, names):  # same names in both
                shutil.copy(
                    osp.join(small_msrs, split, sub, src),
                    osp.join(root, sub, dst))
        roots[split] = root
    cfg = Config.fromfile(_task_config(repo_root, small_msrs, tmp_path))
    prefix = dict(ir='ir', vis='vi', seg='Segmentation_labels')
    cfg.train_dataloader.dataset.update(
        data_root=roots['train'], data_prefix=prefix, indices=1)
    cfg.val_dataloader.dataset.update(
        data_root=roots['test'], data_prefix=prefix)
    cfg.test_dataloader = cfg.val_dataloader
    ckpt = tmp_path / 'model.pth'
    ckpt.write_bytes(b'not read by the plan')
    source = InputSource(
        'm',
        'fused',
        model_config=osp.join(repo_root, FUSION_CONFIG),
        checkpoint=str(ckpt))
    evaluation = TaskDrivenEvaluation(cfg, [source], str(tmp_path / 'w'))
    evaluation._record_model_folders(source)
    plan = evaluation._fusion_plan(source)
    assert len(plan) == 2
    by_root = {}
    for out, item in plan.items():
        irs = {osp.dirname(ir) for _, ir, _ in item['todo']}
        assert len(irs) == 1 and len(item['todo']) == 4
        by_root[irs.pop()] = out
    assert set(by_root) == {
        osp.join(roots['train'], 'ir'),
        osp.join(roots['test'], 'ir')
    }
    assert len(set(by_root.values())) == 2
    train_out = evaluation._fused_prefix[('m', osp.join(roots['train'], 'vi'))]
    test_out = evaluation._fused_prefix[('m', osp.join(roots['test'], 'vi'))]
    assert train_out == by_root[osp.join(roots['train'], 'ir')]
    assert test_out == by_root[osp.join(roots['test'], 'ir')]


def test_prepare_counts_the_pairs_it_fused(repo_root, small_msrs, tmp_path):
    """``prepare`` returns how many pairs it fused: every pair of both
    splits the first time, none once they are on disk (what the task-gain
    runner records as the fusion unit's work)."""
    cfg = Config.fromfile(_task_config(repo_root, small_msrs, tmp_path))
    source = InputSource(
        'SeAFusion',
        'fused',
        model_config=osp.join(repo_root, FUSION_CONFIG),
        checkpoint=_checkpoint(repo_root, tmp_path))
    work = str(tmp_path / 'w')
    assert TaskDrivenEvaluation(
        cfg, [source], work, device='cpu').prepare() == sum(SPLITS.values())
    again = TaskDrivenEvaluation(cfg, [source], work, device='cpu')
    assert again.prepare() == 0
    for split, n in SPLITS.items():
        folder = osp.join(work, 'fused', 'SeAFusion', split, 'vi')
        assert len([f for f in os.listdir(folder) if f.endswith('.png')]) == n


@pytest.mark.slow
def test_dist_task_eval_two_processes(repo_root, small_msrs, tmp_path):
    """``bash tools/dist_task_eval.sh CONFIG 2`` (gloo on CPU): the two
    ranks share the fusion of a checkpoint's pairs, train each task model
    together, and one report is written; a re-run reuses everything."""
    from mmfusion.testing import free_port
    cfg = _task_config(repo_root, small_msrs, tmp_path)
    ckpt = _checkpoint(repo_root, tmp_path)
    work = tmp_path / 'work'

    def run():
        env = dict(
            os.environ,
            PORT=str(free_port()),
            OMP_NUM_THREADS='1',
            PYTHONWARNINGS='ignore')
        env['PATH'] = osp.dirname(sys.executable) + os.pathsep + env['PATH']
        return subprocess.run([
            'bash', 'tools/dist_task_eval.sh', cfg, '2', '--baselines', 'ir',
            '--model', 'SeAFusion',
            osp.join(repo_root,
                     FUSION_CONFIG), ckpt, '--device', 'cpu', '--work-dir',
            str(work)
        ],
                              cwd=repo_root,
                              env=env,
                              capture_output=True,
                              text=True,
                              timeout=600)

    first = run()
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    for split, n in SPLITS.items():
        folder = work / 'fused' / 'SeAFusion' / split / 'vi'
        assert len([f for f in os.listdir(folder) if f.endswith('.png')]) == n
    # rank 0 fused half of each split (its log is the one printed)
    log = (work / 'task_eval.log').read_text()
    assert 'fusing 4 pairs' in log and 'fusing 2 pairs' in log
    with open(work / 'task_eval.json') as f:
        report = json.load(f)
    assert list(report['metrics']) == ['IR', 'SeAFusion']
    with open(work / 'SeAFusion' / 'task_metrics.json') as f:
        assert json.load(f)['metrics'] == report['metrics']['SeAFusion']
    second = run()
    assert second.returncode == 0, second.stderr[-3000:]
    out = second.stdout + second.stderr
    assert out.count('already done') == 2 and 'fusing' not in out


def test_aggregate_seeds():
    from mmfusion.apis.task_driven import aggregate_seeds
    mean, std = aggregate_seeds([
        {
            'mIoU': 40.0,
            'IoU.bump': float('nan'),
            'IoU.car': 10.0
        },
        {
            'mIoU': 44.0,
            'IoU.bump': float('nan'),
            'IoU.car': float('nan')
        },
        {
            'mIoU': 42.0,
            'IoU.bump': float('nan'),
            'IoU.car': 20.0
        },
    ])
    assert mean['mIoU'] == pytest.approx(42.0)
    assert std['mIoU'] == pytest.approx(2.0)  # sample std (ddof=1)
    assert math.isnan(mean['IoU.bump']) and math.isnan(std['IoU.bump'])
    # a NaN of one seed is left out of that metric's mean and std
    assert mean['IoU.car'] == pytest.approx(15.0)
    assert std['IoU.car'] == pytest.approx(50**0.5)
    one_mean, one_std = aggregate_seeds([{'mIoU': 40.0}])
    assert one_mean == {'mIoU': 40.0} and math.isnan(one_std['mIoU'])


def test_report_several_seeds(tmp_path):
    sources = [InputSource.baseline('vis'), InputSource.baseline('ir')]
    result = TaskEvalResult(
        task_config='cfg.py', sources=sources, seeds=[0, 1, 2])
    result.add('VIS', {
        0: {
            'mIoU': 40.0
        },
        1: {
            'mIoU': 44.0
        },
        2: {
            'mIoU': 42.0
        }
    })
    result.add('IR', {0: {'mIoU': 30.0}, 1: {'mIoU': 30.0}, 2: {'mIoU': 33.0}})
    assert result.seed == 0 and result.multi_seed
    md = write_task_report(result, str(tmp_path))
    assert '| VIS | **42.00 ± 2.00** |' in md
    assert '| IR | 31.00 ± 1.73 |' in md
    assert 'seeds 0, 1, 2' in md
    with open(tmp_path / 'task_eval.csv') as f:
        rows = list(csv.reader(f))
    assert rows[0] == ['input', 'source', 'mIoU', 'mIoU_std']
    assert [float(x) for x in rows[1][2:]] == pytest.approx([42.0, 2.0])
    with open(tmp_path / 'task_eval.json') as f:
        report = json.load(f)
    assert report['seeds'] == [0, 1, 2]
    assert report['runs']['IR']['2'] == {'mIoU': 33.0}
    assert report['std']['VIS']['mIoU'] == pytest.approx(2.0)
    assert osp.isfile(tmp_path / 'task_eval.png')


def test_seeds_run_dirs_and_configs(repo_root, small_msrs, tmp_path):
    cfg = Config.fromfile(_task_config(repo_root, small_msrs, tmp_path))
    source = InputSource.baseline('ir')
    evaluation = TaskDrivenEvaluation(
        cfg, [source], str(tmp_path / 'w'), seeds=[3, 5])
    assert evaluation.seeds == [3, 5]
    a = evaluation.variant_config(source, 3)
    b = evaluation.variant_config(source, 5)
    assert a.randomness.seed == 3 and b.randomness.seed == 5
    assert a.work_dir == osp.join(str(tmp_path / 'w'), 'IR', 'seed_3')
    assert b.work_dir == osp.join(str(tmp_path / 'w'), 'IR', 'seed_5')
    assert a.experiment_name != b.experiment_name
    with pytest.raises(ValueError, match='distinct'):
        TaskDrivenEvaluation(cfg, [source], str(tmp_path / 'w'), seeds=[1, 1])


def test_cli_seeds(repo_root):
    import runpy
    tool = runpy.run_path(osp.join(repo_root, 'tools', 'task_eval.py'))
    args = tool['parse_args'](['cfg.py', '--seeds', '0', '1', '2'])
    assert args.seeds == [0, 1, 2]
    assert tool['parse_args'](['cfg.py']).seeds is None
