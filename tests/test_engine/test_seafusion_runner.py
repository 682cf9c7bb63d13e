"""SeAFusion's joint adaptive schedule through the real mmengine Runner on
real MSRS pairs: per-iteration observation of the round schedule (beta per
round, fusion net re-initialised at every round start, the task continuing
across rounds, each network frozen in the other's phase, the two lr
schedules), and ``N`` + resume + ``N`` == ``2N`` with the resume point inside
a round."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook

from mmfusion.engine import PhasedTrainLoop
from mmfusion.engine.runner import build_runner
from mmfusion.structures import PhaseSchedule, current_phase
from mmfusion.testing import check_exact_resume
from mmfusion.utils import set_unique_run_name
from mmfusion.utils.checkpoint import load_checkpoint_file

DEMO = 'configs/seafusion/seafusion_joint_demo.py'
FUSION_ITERS, TASK_ITERS = 2, 2  # per round
ROUND = FUSION_ITERS + TASK_ITERS
FUSION_LR = 1e-3 / 0.75
TASK_LR, WARMUP_START, WARMUP = 1e-2, 1e-4, 2


def seafusion_test_cfg(repo_root, msrs_mini, work_dir, max_iters, **extra):
    """The demo config on shared pairs, even smaller: 48 x 64 images, rounds
    of 2 fusion iterations (1 per "epoch") and 2 task iterations, a fusion
    net at 1/4 width. Both phases' pipelines are random (flips), so an exact
    resume also needs the loop to replay the two loaders in order."""
    cfg = Config.fromfile(osp.join(repo_root, DEMO))
    cfg.work_dir = str(work_dir)
    cfg.model.fusion_net = dict(type='SeAFusionNet', channels=(4, 8, 12))
    cfg.model.task.model.decode_head.sampler.min_kept = 64
    cfg.model.task.model.auxiliary_head.sampler.min_kept = 64
    size = (64, 48)
    fusion_pipeline = [
        dict(type='LoadPairedImageFromFile'),
        dict(type='mmseg.LoadAnnotations'),
        dict(type='Resize', scale=size, keep_ratio=True),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PackFusionInputs'),
    ]
    task_pipeline = [
        dict(type='LoadPairedImageFromFile'),
        dict(type='mmseg.LoadAnnotations'),
        dict(
            type='RandomChoiceResize',
            scales=[(64, 48), (96, 72)],
            keep_ratio=True),
        dict(type='mmseg.RandomCrop', crop_size=(48, 64)),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PackFusionInputs'),
    ]
    cfg.train_dataloader.dataset.update(
        data_root=msrs_mini, indices=8, pipeline=fusion_pipeline)
    task_loader = cfg.train_cfg.extra_dataloaders.task
    task_loader.dataset.update(
        data_root=msrs_mini, indices=8, pipeline=task_pipeline)
    cfg.train_cfg.phases = [
        dict(name='fusion', iters=FUSION_ITERS),
        dict(
            name='task',
            iters=TASK_ITERS,
            batches_per_iter=0,
            extra_batches=dict(task=1)),
    ]
    cfg.train_cfg.max_iters = max_iters
    cfg.train_cfg.val_interval = 1000
    cfg.optim_wrapper.task.optimizer.lr = WARMUP_START
    cfg.param_scheduler = dict(
        fusion_net=[
            dict(
                type='StepLR',
                step_size=1,
                gamma=0.75,
                by_epoch=False,
                begin=0,
                end=FUSION_ITERS)
        ],
        task=[
            dict(
                type='ExponentialLR',
                gamma=(TASK_LR / WARMUP_START)**(1 / WARMUP),
                by_epoch=False,
                begin=0,
                end=WARMUP + 1),
            dict(
                type='PolyLR',
                power=0.9,
                eta_min=0.,
                by_epoch=False,
                begin=WARMUP,
                end=4 * TASK_ITERS + 1),
        ])
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.test_cfg = cfg.test_dataloader = cfg.test_evaluator = None
    cfg.default_hooks.checkpoint.interval = max_iters
    cfg.default_hooks.logger.interval = 1
    cfg.custom_hooks = [dict(type='RNGStateHook')]
    cfg.randomness = dict(seed=7)
    set_unique_run_name(cfg, osp.basename(str(work_dir)))
    cfg.merge_from_dict(extra)
    return cfg


def _state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _same(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


class Recorder(Hook):
    """Per iteration: phase, round, the lrs in use, what the step changed."""

    priority = 'LOWEST'  # after the scheduler hook's restart

    def __init__(self):
        self.rows = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        model = runner.model
        phase = current_phase()
        ow = runner.optim_wrapper
        self.row = dict(
            iter=runner.iter,
            phase=phase.name,
            pos=phase.iter,
            round=phase.cycle,
            fusion_lr=ow['fusion_net'].param_groups[0]['lr'],
            task_lrs=[g['lr'] for g in ow['task'].param_groups])
        self.fusion = _state(model.fusion_net)
        self.task = _state(model.task)

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None):
        model = runner.model
        self.row.update(
            outputs={
                k: float(v.detach())
                for k, v in outputs.items()
            },
            fusion_changed=not _same(self.fusion, _state(model.fusion_net)),
            task_changed=not _same(self.task, _state(model.task)),
            fusion_before=self.fusion,
            fusion_after=_state(model.fusion_net),
            task_before=self.task,
            fusion_grads=[
                p.grad for p in model.fusion_net.parameters()
                if p.grad is not None and p.grad.abs().sum() > 0
            ],
            task_grads=[
                p.grad for p in model.task.parameters()
                if p.grad is not None and p.grad.abs().sum() > 0
            ],
            adam_steps={
                int(s['step'])
                for s in
                runner.optim_wrapper['fusion_net'].optimizer.state.values()
            })
        self.rows.append(self.row)


def _task_lr(t):
    """Closed form of the task schedule at task iteration t (all rounds)."""
    if t <= WARMUP:
        return WARMUP_START * (TASK_LR / WARMUP_START)**(t / WARMUP)
    return TASK_LR * (1 - (t - WARMUP) / (4 * TASK_ITERS - WARMUP))**0.9


@pytest.mark.slow
def test_round_schedule_in_a_real_run(repo_root, msrs_mini, tmp_path):
    runner = build_runner(
        seafusion_test_cfg(repo_root, msrs_mini, tmp_path, 4 * ROUND))
    assert isinstance(runner.train_loop, PhasedTrainLoop)
    recorder = Recorder()
    runner.register_hook(recorder)
    init_task = _state(runner.model.task)
    runner.train()
    rows = recorder.rows
    model = runner.model
    assert [r['round'] for r in rows] == [i // ROUND for i in range(16)]
    assert [r['phase'] for r in rows] == (['fusion'] * 2 + ['task'] * 2) * 4

    task_iter = 0
    for r in rows:
        out = r['outputs']
        if r['phase'] == 'fusion':
            # beta_r = r; the semantic loss is there from round 1 on and is
            # beta x the task's (rescaled) loss
            assert out['beta'] == r['round']
            sem = sum(v for k, v in out.items()
                      if k.startswith('fusion.sem.') and 'loss' in k)
            if r['round'] == 0:
                assert 'fusion.sem_raw' not in out
            else:
                assert out['fusion.sem_raw'] > 0
                assert abs(sem - r['round'] * out['fusion.sem_raw']) <= \
                    1e-5 * sem
            # only the fusion net learns; the task is frozen
            assert r['fusion_changed'] and not r['task_changed']
            assert r['fusion_grads'] == [] and r['task_grads'] == []
            # fusion lr: 1e-3 * 0.75^(e - 1), e restarting every round
            assert abs(r['fusion_lr'] - FUSION_LR * 0.75**r['pos']) < 1e-12
            # a new Adam every round: its step count is the phase position
            assert r['adam_steps'] == {r['pos'] + 1}
        else:
            assert 'beta' not in out and out['task.loss'] > 0
            assert r['task_changed'] and not r['fusion_changed']
            # task lr: warm-up + poly over the task iterations of all rounds
            # (heads x 10)
            lrs = sorted(set(round(lr, 15) for lr in r['task_lrs']))
            expected = _task_lr(task_iter)
            assert len(lrs) == 2
            assert abs(lrs[0] - expected) <= 1e-9 * expected
            assert abs(lrs[1] - 10 * expected) <= 1e-8 * expected
            task_iter += 1

    # re-initialisation at the start of every round >= 1: the first step of
    # a new Adam moves each weight by at most lr from the seeded new net,
    # far from where the previous round left it
    for r in rows:
        if r['phase'] != 'fusion' or r['pos'] != 0 or r['round'] == 0:
            continue
        fresh = model.seeded_fusion_state(r['round'])
        to_fresh = max(
            float((r['fusion_after'][k] - v).abs().max())
            for k, v in fresh.items())
        to_prev = max(
            float((r['fusion_after'][k] - v).abs().max())
            for k, v in r['fusion_before'].items())
        assert to_fresh <= FUSION_LR + 1e-6 < 0.01 < to_prev, r['iter']
    # the rounds' new nets differ (seeded by round)
    assert not torch.equal(
        model.seeded_fusion_state(1)['head.weight'],
        model.seeded_fusion_state(2)['head.weight'])

    # the task continues: each task phase starts where the previous one
    # ended (the fusion phase in between left it untouched), never from init
    starts = [r for r in rows if r['phase'] == 'task' and r['pos'] == 0]
    ends = [r for r in rows if r['phase'] == 'task' and r['pos'] == 1]
    for prev_end, start in zip(ends, starts[1:]):
        end_state = recorder.rows[prev_end['iter'] + 1]['task_before']
        assert _same(end_state, start['task_before'])
        assert not _same(start['task_before'], init_task)
    sgd = runner.optim_wrapper['task'].optimizer.state
    assert sgd and all('momentum_buffer' in s for s in sgd.values())


@pytest.mark.slow
def test_resume_mid_round_equals_uninterrupted(repo_root, msrs_mini, tmp_path):
    # iterations 0..13: F F T T | F F T T | F F T T | F F; stop after 7,
    # inside round 1's task phase; the resumed half re-initialises the fusion
    # net twice (rounds 2 and 3)
    n = 7
    run = check_exact_resume(
        lambda work_dir, iters, **extra: seafusion_test_cfg(
            repo_root, msrs_mini, work_dir, iters, **extra), tmp_path, n)
    ckpt = load_checkpoint_file(run.checkpoint)
    assert set(ckpt['optimizer']) == {'fusion_net', 'task'}
    # the last iteration run (6) is the first of round 1's task phase: the
    # resumed run starts inside it
    info = ckpt['message_hub']['runtime_info']
    assert (info['phase'], info['phase_iter'], info['cycle']) == ('task', 0, 1)
    # the schedulers resumed too
    for key in ('fusion_net', 'task'):
        assert [
            g['lr'] for g in run.resumed.optim_wrapper[key].param_groups
        ] == [g['lr'] for g in run.full.optim_wrapper[key].param_groups], key


def _schedule(phases, n_batches=10, extra=None):
    loop = PhasedTrainLoop.__new__(PhasedTrainLoop)
    loop.dataloader = list(range(n_batches))
    lens = {k: len(v) for k, v in (extra or {}).items()}
    loop.schedule = PhaseSchedule(phases, {None: n_batches, **lens})
    return loop


def test_phase_drawing_from_an_extra_loader_only():
    loop = _schedule([
        dict(name='fusion', iters='epoch'),
        dict(
            name='task',
            iters='epoch',
            batches_per_iter=0,
            extra_batches=dict(task=1))
    ],
                     n_batches=3,
                     extra=dict(task=list(range(5))))
    assert [loop.phase_at(i)[0] for i in range(9)] == \
        ['fusion'] * 3 + ['task'] * 5 + ['fusion']
    assert loop.batches_before(8) == 3 and loop.batches_before(8, 'task') == 5
    assert loop.batches_before(10) == 5
    with pytest.raises(ValueError, match='draws no batches'):
        _schedule([dict(name='task', iters=2, batches_per_iter=0)])
