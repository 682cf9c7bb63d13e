"""SeAFusion's joint adaptive training, step by step on real MSRS pairs with a
real (tiny) mmseg BiSeNetV1 carrying an OHEM main head and an OHEM auxiliary
head: the semantic loss and its beta, the frozen networks of each phase, the
round start."""
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.logging import MessageHub
from mmengine.registry import init_default_scope

from mmfusion.models.algorithms.seafusion import colour_jitter, frozen
from mmfusion.registry import DATASETS, MODELS, OPTIM_WRAPPER_CONSTRUCTORS
from mmfusion.structures.phases import set_phase

DEMO = 'configs/seafusion/seafusion_joint_demo.py'
PIPELINE = [
    dict(type='LoadPairedImageFromFile'),
    dict(type='mmseg.LoadAnnotations'),
    dict(type='Resize', scale=(64, 48), keep_ratio=True),
    dict(type='PackFusionInputs')
]


def _batch(msrs_mini, bs=2):
    init_default_scope('mmfusion')
    ds = DATASETS.build(
        dict(
            type='MSRSDataset',
            data_root=msrs_mini,
            data_prefix=dict(
                ir='train/ir', vis='train/vi',
                seg='train/Segmentation_labels'),
            pipeline=PIPELINE))
    return pseudo_collate([ds[i] for i in range(bs)])


def _build(repo_root, fusion_optim=None, **kwargs):
    """The demo's model (tiny BiSeNetV1, OHEM main + 0.75 aux; semantic
    loss 1 x main + 0.1 x aux) with a narrower fusion net."""
    init_default_scope('mmfusion')
    cfg = Config.fromfile(f'{repo_root}/{DEMO}')
    cfg.model.fusion_net = dict(type='SeAFusionNet', channels=(4, 8, 12))
    cfg.model.task.model.decode_head.sampler.min_kept = 64
    cfg.model.task.model.auxiliary_head.sampler.min_kept = 64
    cfg.model.update(kwargs)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    ow = OPTIM_WRAPPER_CONSTRUCTORS.build(
        dict(
            type='MultiOptimWrapperConstructor',
            optim_wrapper_cfg=dict(
                fusion_net=dict(
                    optimizer=fusion_optim or dict(type='SGD', lr=1e-3)),
                task=dict(
                    optimizer=dict(type='SGD', lr=1e-2, momentum=0.9)))))(
                        model)
    return model, ow


def _phase(phase, round_idx, pos=1, it=0):
    set_phase(phase, pos, round_idx)
    MessageHub.get_current_instance().update_info('iter', it)


def _snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _changed(before, module):
    after = module.state_dict()
    return [k for k in before if not torch.equal(before[k], after[k])]


def test_fusion_gradient_is_content_plus_beta_semantic(repo_root, msrs_mini):
    """One SGD step (lr 1) of the fusion phase moves the fusion net by
    exactly -grad(L_content + beta * (L_main + 0.1 L_aux)), computed here
    from the parts; round 0 (beta 0) never runs the task."""
    batch = _batch(msrs_mini)
    model, ow = _build(repo_root, fusion_optim=dict(type='SGD', lr=1.))
    net = model.fusion_net
    data = model.data_preprocessor(batch, True)
    inputs, samples = data['inputs'], data['data_samples']
    params = list(net.parameters())

    def grads_of(beta):
        fused = net(inputs['ir'], inputs['vis_y'])
        total = sum(model.compute_fusion_loss(fused, inputs).values())
        if beta:
            model.task.eval()
            sem = model.task(fused, inputs['vis_cbcr'], samples, mode='loss')
            model.task.train()
            # the task trains with 0.75 x aux; the semantic loss uses 0.1
            total = total + beta * (
                sem['decode.loss_ce'] + sem['aux.loss_ce'] * 0.1 / 0.75)
        return torch.autograd.grad(total, params)

    expected = {beta: grads_of(beta) for beta in (0., 2.)}
    # the semantic part is not negligible: beta matters
    diff = max(
        float((a - b).abs().max()) for a, b in zip(expected[0.], expected[2.]))
    assert diff > 1e-4
    start = [p.detach().clone() for p in params]
    task_calls = []
    hook = model.task.register_forward_hook(lambda *args: task_calls.append(1))
    for round_idx, beta in ((0, 0.), (2, 2.)):
        with torch.no_grad():
            for p, s in zip(params, start):
                p.copy_(s)
        _phase('fusion', round_idx)
        log = model.train_step(batch, ow)
        assert float(log['beta']) == beta and float(log['round']) == round_idx
        assert bool(task_calls) == (beta > 0)
        for p, s, g in zip(params, start, expected[beta]):
            torch.testing.assert_close(s - p.detach(), g, atol=1e-6, rtol=1e-4)
        if beta:
            sem = sum(
                float(v.detach()) for k, v in log.items()
                if k.startswith('fusion.sem.') and 'loss' in k)
            assert sem == pytest.approx(
                beta * float(log['fusion.sem_raw']), rel=1e-5)
    hook.remove()


def test_task_frozen_in_fusion_phase(repo_root, msrs_mini):
    batch = _batch(msrs_mini)
    model, ow = _build(repo_root)
    task_before, fusion_before = _snapshot(model.task), _snapshot(
        model.fusion_net)
    _phase('fusion', 3)
    model.train()
    log = model.train_step(batch, ow)
    assert float(log['fusion.sem_raw']) > 0
    # parameters and BN statistics untouched (eval mode), no gradients
    assert _changed(task_before, model.task) == []
    assert all(p.grad is None for p in model.task.parameters())
    assert not ow['task'].optimizer.state
    # ... and the freeze is lifted afterwards
    assert all(p.requires_grad for p in model.task.parameters())
    assert model.task.training
    assert len(_changed(fusion_before, model.fusion_net)) == len(fusion_before)


def test_fusion_frozen_in_task_phase(repo_root, msrs_mini):
    batch = _batch(msrs_mini)
    model, ow = _build(repo_root)
    task_before, fusion_before = _snapshot(model.task), _snapshot(
        model.fusion_net)
    _phase('task', 1)
    log = model.train_step(batch, ow)
    assert 'task.decode.loss_ce' in log and 'task.aux.loss_ce' in log
    assert 'beta' not in log
    assert _changed(fusion_before, model.fusion_net) == []
    assert all(p.grad is None for p in model.fusion_net.parameters())
    assert not ow['fusion_net'].optimizer.state
    assert all(p.requires_grad for p in model.fusion_net.parameters())
    changed = _changed(task_before, model.task)
    assert any('backbone' in k for k in changed)
    assert any('decode_head' in k for k in changed)
    assert any('auxiliary_head' in k for k in changed)


@pytest.mark.parametrize('reinit', [True, False])
def test_round_start_reinitialises_fusion_net(repo_root, msrs_mini, reinit):
    batch = _batch(msrs_mini)
    model, ow = _build(
        repo_root,
        fusion_optim=dict(type='Adam', lr=1e-3),
        reinit_fusion_net=reinit,
        semantic_weights=[0., 0.])
    for pos in range(2):  # round 0: Adam state builds up
        _phase('fusion', 0, pos)
        model.train_step(batch, ow)
    trained = _snapshot(model.fusion_net)
    state = ow['fusion_net'].optimizer.state
    assert int(next(iter(state.values()))['step']) == 2

    # a round start inside another round's phase changes nothing
    _phase('fusion', 1, pos=3)
    assert model.train_step(batch, ow) and int(
        next(iter(state.values()))['step']) == 3
    model.fusion_net.load_state_dict(trained)

    _phase('fusion', 1, pos=0)
    model.train_step(batch, ow)
    # a new Adam: its first step moves every weight by at most lr
    assert int(next(iter(state.values()))['step']) == 1
    with torch.random.fork_rng():
        torch.manual_seed(1234)  # the re-init ignores the global stream
        fresh = MODELS.build(dict(type='SeAFusionNet', channels=(4, 8, 12)))
    fresh.load_state_dict(model.seeded_fusion_state(1))
    new = model.fusion_net.state_dict()
    to_fresh = max(
        float((new[k] - v).abs().max()) for k, v in fresh.state_dict().items())
    to_trained = max(
        float((new[k] - v).abs().max()) for k, v in trained.items())
    if reinit:
        assert to_fresh <= 1e-3 + 1e-6 < 0.01 < to_trained
    else:
        assert to_trained <= 1e-3 + 1e-6 < 0.01 < to_fresh
    # the same seed gives the same net: every DDP rank draws the same
    again = model.seeded_fusion_state(1)
    assert all(
        torch.equal(v, again[k])
        for k, v in model.seeded_fusion_state(1).items())
    other = model.seeded_fusion_state(2)
    assert not torch.equal(other['head.weight'], again['head.weight'])


def test_beta_schedule(repo_root):
    model, _ = _build(repo_root, semantic_weights=None)
    assert [model.semantic_weight(r) for r in range(4)] == [0., 1., 2., 3.]
    model, _ = _build(repo_root, semantic_weights=[0., .5])
    assert model.semantic_weight(1) == .5
    with pytest.raises(IndexError, match='round 2'):
        model.semantic_weight(2)


def test_phase_and_round_are_required(repo_root, msrs_mini):
    model, ow = _build(repo_root)
    _phase('meta', 0)
    with pytest.raises(RuntimeError, match='PhasedTrainLoop'):
        model.train_step(_batch(msrs_mini), ow)


def test_frozen_restores_state_after_an_error():
    net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout())
    net[0].bias.requires_grad_(False)
    with pytest.raises(ValueError):
        with frozen(net):
            assert not net.training
            assert not any(p.requires_grad for p in net.parameters())
            raise ValueError
    assert net.training
    assert net[0].weight.requires_grad and not net[0].bias.requires_grad


def test_colour_jitter():
    rgb = torch.rand(3, 3, 8, 8)
    assert torch.equal(colour_jitter(rgb), rgb)
    out = colour_jitter(
        rgb * 0.5, brightness=0.5, generator=torch.Generator().manual_seed(0))
    factor = (out / (rgb * 0.5)).flatten(1)
    # one factor per image, within [0.5, 1.5]
    assert torch.allclose(factor, factor[:, :1].expand_as(factor), atol=1e-5)
    assert ((factor >= 0.5) & (factor <= 1.5)).all()
    # away from clamping, contrast keeps each image's grey mean and
    # saturation keeps every pixel's grey value
    mid = 0.4 + 0.2 * rgb

    def grey(x):
        return 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]

    gen = torch.Generator().manual_seed(1)
    out = colour_jitter(mid, contrast=0.5, generator=gen)
    assert not torch.allclose(out, mid)
    torch.testing.assert_close(grey(out).mean((1, 2)), grey(mid).mean((1, 2)))
    out = colour_jitter(mid, saturation=0.5, generator=gen)
    assert not torch.allclose(out, mid)
    torch.testing.assert_close(grey(out), grey(mid))
    a = colour_jitter(rgb, 0.5, 0.5, 0.5, torch.Generator().manual_seed(3))
    b = colour_jitter(rgb, 0.5, 0.5, 0.5, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and not torch.equal(a, rgb)


@pytest.mark.filterwarnings('ignore:Detected call of')
def test_full_config_is_the_published_setup(repo_root):
    """configs/seafusion/seafusion_joint_msrs.py builds (no weights are
    downloaded before init_weights) into the published setup, and its task
    schedule is the released warm-up + poly over the task iterations."""
    init_default_scope('mmfusion')
    cfg = Config.fromfile(
        f'{repo_root}/configs/seafusion/seafusion_joint_msrs.py')
    model = MODELS.build(cfg.model)
    seg = model.task.model
    assert type(model.fusion_net).__name__ == 'SeAFusionNet'
    assert type(seg.backbone).__name__ == 'BiSeNetV1'
    assert type(seg.backbone.context_path.backbone).__name__ == 'ResNet'
    assert seg.backbone.context_path.backbone.depth == 18
    assert [model.semantic_weight(r) for r in range(4)] == [0., 1., 2., 3.]
    for head, weight in ((seg.decode_head, 1.), (seg.auxiliary_head, .75)):
        assert type(head.sampler).__name__ == 'OHEMPixelSampler'
        assert head.sampler.thresh == 0.7
        assert head.sampler.min_kept == 480 * 640 // 16
        assert head.num_classes == 9
        assert head.loss_decode.loss_weight == weight
    assert model.semantic_loss_scale['aux'] * 0.75 == pytest.approx(0.1)
    phases = cfg.train_cfg.phases
    assert [p['iters'] for p in phases] == [680, 20000]
    assert cfg.train_cfg.max_iters == 4 * 20680
    assert cfg.train_cfg.extra_dataloaders.task.batch_size == 16

    # the task schedulers, stepped only in task iterations
    # (PhasedParamSchedulerHook), give the released BiSeNet lr at task
    # iteration t: 1e-5 * 1000^(t / 1000) up to t = 1000, then
    # 1e-2 * (1 - (t - 1000) / 79000)^0.9
    from mmengine.optim import OptimWrapper

    from mmfusion.registry import PARAM_SCHEDULERS
    param = torch.nn.Parameter(torch.zeros(1))
    ow = OptimWrapper(
        torch.optim.SGD([param], lr=cfg.optim_wrapper.task.optimizer.lr))
    schedulers = [
        PARAM_SCHEDULERS.build(c, default_args=dict(optimizer=ow))
        for c in cfg.param_scheduler.task
    ]
    checks = {
        0: 1e-5,
        500: 1e-5 * 1000**0.5,
        1000: 1e-2,
        1001: 1e-2 * (1 - 1 / 79000)**0.9,
        40000: 1e-2 * (1 - 39000 / 79000)**0.9,
        79999: 1e-2 * (1 - 78999 / 79000)**0.9
    }
    for t in range(80000):
        if t in checks:
            assert ow.get_lr()['lr'][0] == pytest.approx(checks[t], rel=1e-6)
        for s in schedulers:
            s.step()
    hook = cfg.default_hooks.param_scheduler
    assert hook.type == 'PhasedParamSchedulerHook'
    assert hook.phases == dict(fusion_net='fusion', task='task')
    assert hook.restart == ['fusion_net']


def test_phased_scheduler_hook_arguments():
    from mmfusion.engine import PhasedParamSchedulerHook
    hook = PhasedParamSchedulerHook(
        phases=dict(fusion_net='fusion', task=['task', 'meta']),
        restart=['fusion_net'])
    assert hook.phases == dict(fusion_net={'fusion'}, task={'task', 'meta'})
    with pytest.raises(KeyError, match='no phases'):
        PhasedParamSchedulerHook(phases=dict(task='task'), restart=['fusion'])


def test_ohem_loss_is_the_released_ohem_ce():
    """mmseg's OHEMPixelSampler + OHEMCrossEntropyLoss equal the released
    OhemCELoss: CE over the pixels with loss > -ln 0.7, or the n_min hardest
    ones when fewer, averaged over the kept pixels."""
    from types import SimpleNamespace

    from mmseg.structures.sampler import OHEMPixelSampler

    from mmfusion.models.losses import OHEMCrossEntropyLoss
    torch.manual_seed(0)
    label = torch.randint(0, 9, (2, 12, 16))
    label[:, :2] = 255  # ignored
    loss_fn = OHEMCrossEntropyLoss(loss_weight=0.75)
    branches = set()
    onehot = torch.nn.functional.one_hot(label.clamp(max=8),
                                         9).permute(0, 3, 1, 2).float()
    easy = (torch.rand(2, 1, 12, 16) < 0.8).float()
    for n_min in (20, 150):
        # 80% of the pixels confidently right: with n_min = 20 per image the
        # hard ones (> -ln 0.7) are more than n_min, with 150 fewer
        logits = torch.randn(2, 9, 12, 16) + 8 * onehot * easy
        sampler = OHEMPixelSampler(
            SimpleNamespace(ignore_index=255), thresh=0.7, min_kept=n_min)
        weight = sampler.sample(logits, label[:, None])
        got = loss_fn(logits, label, weight=weight, ignore_index=255)

        ce = torch.nn.functional.cross_entropy(
            logits, label, ignore_index=255, reduction='none')
        ce = ce[label != 255].sort(descending=True).values
        batch_min = 2 * n_min  # mmseg's min_kept is per image
        thresh = -torch.log(torch.tensor(0.7))
        by_thresh = bool(ce[batch_min] > thresh)
        branches.add(by_thresh)
        kept = ce[ce > thresh] if by_thresh else ce[:batch_min]
        assert got == pytest.approx(0.75 * float(kept.mean()), rel=1e-5)
    assert branches == {True, False}
    assert loss_fn.loss_name == 'loss_ce'
    # without a sampler: mean CE over non-ignored pixels
    plain = torch.nn.functional.cross_entropy(logits, label, ignore_index=255)
    assert loss_fn(logits, label) == pytest.approx(
        0.75 * float(plain), rel=1e-5)
