"""TDFusion's meta-learning on real mmseg / mmdet task models (tiny, CPU)."""
import os.path as osp

import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.logging import MessageHub
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

from mmfusion.models.utils.misc import unwrap
from mmfusion.registry import DATASETS, MODELS, OPTIM_WRAPPER_CONSTRUCTORS
from mmfusion.structures.phases import set_phase
from mmfusion.testing import tiny_detector, tiny_segmentor

PIPELINE = [
    dict(type='LoadPairedImageFromFile'),
    dict(type='mmseg.LoadAnnotations'),
    dict(type='PackFusionInputs')
]


def _yolo_boxes(path, w, h):
    rows = [line.split() for line in open(path) if line.strip()]
    boxes = []
    for _, cx, cy, bw, bh in rows:
        cx, cy, bw, bh = float(cx) * w, float(cy) * h, float(bw) * w, \
            float(bh) * h
        boxes.append([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2])
    labels = [int(r[0]) for r in rows]
    return torch.tensor(boxes).view(-1, 4), torch.tensor(labels).long()


def _batches(msrs_mini, task_kind, n=2):
    init_default_scope('mmfusion')
    ds = DATASETS.build(
        dict(
            type='MSRSDataset',
            data_root=msrs_mini,
            data_prefix=dict(
                ir='train/ir', vis='train/vi',
                seg='train/Segmentation_labels'),
            pipeline=PIPELINE))
    batches = []
    for i in range(n):
        item = ds[i]
        if task_kind == 'det':  # boxes of the pair, from its YOLO labels
            name = item['data_samples'].metainfo['img_id']
            bboxes, labels = _yolo_boxes(
                osp.join(msrs_mini, 'train', 'Detection_labels',
                         f'{name}.txt'), 640, 480)
            item['data_samples'].gt_instances = InstanceData(
                bboxes=bboxes, labels=labels)
            item['data_samples'].set_metainfo(dict(scale_factor=(1., 1.)))
        batches.append(pseudo_collate([item]))
    return batches


def _build(task_kind, **kwargs):
    init_default_scope('mmfusion')
    task = dict(
        type='TaskAdapter', model=tiny_segmentor(9, 1),
        input_format='y') if task_kind == 'seg' else dict(
            type='TaskAdapter', model=tiny_detector(3), input_format='rgb')
    cfg = dict(
        type='TDFusion',
        fusion_net=dict(type='ReFusionNet'),
        loss_generator=dict(type='TDFusionLossGenerator'),
        fusion_loss=dict(type='WeightedIntensityGradientLoss'),
        task=task,
        swap_modalities=True,  # batch of 2 (BN in the task heads)
        fusion_crop_size=(48, 48),
        task_input_size=(64, 96))
    cfg.update(kwargs)
    model = MODELS.build(cfg)
    ow = OPTIM_WRAPPER_CONSTRUCTORS.build(
        dict(
            type='MultiOptimWrapperConstructor',
            optim_wrapper_cfg=dict(
                fusion_net=dict(optimizer=dict(type='Adam', lr=1e-4)),
                loss_generator=dict(
                    optimizer=dict(type='MaxAbsNormSGD', lr=1e-4)),
                task=dict(optimizer=dict(type='Adam', lr=1e-4)))))(
                    model)
    return model, ow


def _outer_grads(model, b1, b2):
    """Gradient of the outer task loss w.r.t. the loss generator."""
    MessageHub.get_current_instance().update_info('iter', 0)
    gen = model._generator()
    crop, _, _ = model._views(b1, gen)
    _, task_in, task_samples = model._views(b2, gen)
    fast, _ = model.virtual_step(crop, alpha=1e-4)
    from torch.func import functional_call
    fused = functional_call(model.fusion_net, fast,
                            (task_in['ir'], task_in['vis_y']))
    loss, _ = model.parse_losses(model.task_loss(fused, task_in, task_samples))
    params = list(model.loss_generator.parameters())
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return [
        torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)
    ]


@pytest.mark.parametrize('task_kind', ['seg', 'det'])
def test_second_order_path_is_what_trains_the_loss_generator(
        msrs_mini, task_kind):
    torch.manual_seed(0)
    b1, b2 = _batches(msrs_mini, task_kind)
    model, _ = _build(task_kind)
    grads = _outer_grads(model, b1, b2)
    total = sum(g.abs().sum() for g in grads)
    assert torch.isfinite(total) and total > 0
    model.second_order = False  # inner gradient detached
    grads = _outer_grads(model, b1, b2)
    assert all(g.abs().sum() == 0 for g in grads)


@pytest.mark.parametrize('task_kind', ['seg', 'det'])
def test_meta_step_updates_generator_and_restores_task(msrs_mini, task_kind):
    torch.manual_seed(0)
    b1, b2 = _batches(msrs_mini, task_kind)
    model, ow = _build(task_kind)
    hub = MessageHub.get_current_instance()
    hub.update_info('iter', 0)
    set_phase('meta')
    g0 = [p.detach().clone() for p in model.loss_generator.parameters()]
    f0 = [p.detach().clone() for p in model.fusion_net.parameters()]
    t0 = {k: v.clone() for k, v in model.task.state_dict().items()}
    log = model.train_step([b1, b2], ow)
    assert torch.isfinite(log['meta.loss'])
    g1 = list(model.loss_generator.parameters())
    # max-abs-normalised SGD: the largest change is exactly the lr
    step = max(float((a - b).abs().max()) for a, b in zip(g0, g1))
    assert step == pytest.approx(1e-4, rel=1e-3)
    assert all(
        torch.equal(a, b) for a, b in zip(f0, model.fusion_net.parameters()))
    t1 = model.task.state_dict()
    assert all(torch.equal(t0[k], t1[k]) for k in t0), 'task not restored'
    # ... although it did take its temporary step (Adam has state now)
    assert len(ow['task'].optimizer.state) > 0
    assert all(p.grad is None or p.grad.abs().sum() == 0
               for p in model.fusion_net.parameters())


def test_fusion_phase_trains_fusion_and_task_not_generator(msrs_mini):
    torch.manual_seed(0)
    b1, _ = _batches(msrs_mini, 'seg', n=1) * 2
    model, ow = _build('seg')
    hub = MessageHub.get_current_instance()
    hub.update_info('iter', 0)
    set_phase('fusion')
    snap = {
        name: [p.detach().clone() for p in getattr(model, name).parameters()]
        for name in ('fusion_net', 'loss_generator', 'task')
    }
    log = model.train_step(b1, ow)
    assert 'fusion.loss_int' in log and 'task.loss' in log

    def changed(name):
        return any(not torch.equal(a, b)
                   for a, b in zip(snap[name],
                                   getattr(model, name).parameters()))

    assert changed('fusion_net') and changed('task')
    assert not changed('loss_generator')


def test_nonfinite_updates_are_skipped_then_stop(msrs_mini, monkeypatch):
    torch.manual_seed(0)
    b1, _ = _batches(msrs_mini, 'seg', n=1) * 2
    model, ow = _build('seg', max_consecutive_nonfinite=3)
    hub = MessageHub.get_current_instance()
    hub.update_info('iter', 0)
    set_phase('fusion')
    f0 = [p.detach().clone() for p in model.fusion_net.parameters()]
    loss_module = model.fusion_loss[0]
    original = loss_module.forward

    def nan_loss(*args, **kwargs):
        out = original(*args, **kwargs)
        out['loss_int'] = out['loss_int'] * float('nan')
        return out

    monkeypatch.setattr(loss_module, 'forward', nan_loss)
    for i in range(2):
        log = model.train_step(b1, ow)
        assert log['nonfinite_skipped'] == i + 1
    assert all(
        torch.equal(a, b) for a, b in zip(f0, model.fusion_net.parameters()))
    assert all(torch.isfinite(p).all() for p in model.fusion_net.parameters())
    with pytest.raises(FloatingPointError, match='3 consecutive'):
        model.train_step(b1, ow)


def test_phase_is_required(msrs_mini):
    b1, _ = _batches(msrs_mini, 'seg', n=1) * 2
    model, ow = _build('seg')
    set_phase(None)
    with pytest.raises(RuntimeError, match='PhasedTrainLoop'):
        model.train_step(b1, ow)


def test_unwrap_is_identity_without_ddp():
    m = torch.nn.Linear(2, 2)
    assert unwrap(m) is m


@pytest.mark.slow
def test_hypergradient_equals_hessian_vector_route(msrs_mini):
    """The loss generator's hypergradient from the meta step's composition
    (outer task loss through the differentiable virtual step) equals the
    same derivative computed another way, in float64 at the published inner
    lr: d L_t(theta') / d phi = -alpha * grad_phi < grad_theta L_f(theta,
    phi), u >, with u = grad L_t at theta' held fixed (one plain backward,
    then a Hessian-vector product of the inner loss only). A missing alpha,
    a virtual step that the outer loss does not use, or a double-counted
    path would break the equality.

    (A central finite difference of the outer loss is no check here: the
    hypergradient is ~1e-9 at this size, and ReLU / PReLU kinks crossed by
    the perturbation make the difference quotient scatter — 1.57e-9,
    2.41e-9, 0.83e-9 for eps = 1e-2, 1e-3, 1e-4 against 1.68e-9 with
    alpha = 1.)"""
    torch.manual_seed(0)
    b1, b2 = _batches(msrs_mini, 'seg')
    model, _ = _build(
        'seg', fusion_crop_size=(24, 24), task_input_size=(32, 48))
    model.double()
    model.task.eval()  # no dropout: a deterministic function
    MessageHub.get_current_instance().update_info('iter', 0)
    gen = model._generator()
    crop, _, _ = model._views(b1, gen)
    _, task_in, task_samples = model._views(b2, gen)
    crop = {k: v.double() for k, v in crop.items()}
    task_in = {k: v.double() for k, v in task_in.items()}
    from torch.func import functional_call
    alpha = 1e-4
    gen_params = list(model.loss_generator.parameters())

    def task_loss(weights):
        fused = functional_call(model.fusion_net, weights,
                                (task_in['ir'], task_in['vis_y']))
        return model.parse_losses(
            model.task_loss(fused, task_in, task_samples))[0]

    def dense(grads):
        return [
            torch.zeros_like(p) if g is None else g
            for p, g in zip(gen_params, grads)
        ]

    # 1. the meta step's route: through the differentiable virtual step
    fast, _ = model.virtual_step(crop, alpha=alpha)
    loss = task_loss(fast)
    assert loss.dtype == torch.float64
    chain = dense(torch.autograd.grad(loss, gen_params, allow_unused=True))
    # 2. u = grad of L_t at theta' (fixed), then a Hessian-vector product
    fixed = {k: v.detach().requires_grad_() for k, v in fast.items()}
    u = torch.autograd.grad(task_loss(fixed), list(fixed.values()))
    theta = {
        k: p
        for k, p in model.fusion_net.named_parameters() if p.requires_grad
    }
    weights = model.loss_generator(crop['ir'], crop['vis_y'])
    fused = functional_call(model.fusion_net, theta,
                            (crop['ir'], crop['vis_y']))
    inner = model.parse_losses(
        model.compute_fusion_loss(fused, crop, pixel_weights=weights))[0]
    g_theta = torch.autograd.grad(
        inner, list(theta.values()), create_graph=True)
    dot = sum((g * v).sum() for g, v in zip(g_theta, u))
    hvp = dense(torch.autograd.grad(dot, gen_params, allow_unused=True))
    other = [-alpha * h for h in hvp]
    scale = max(float(g.abs().max()) for g in chain)
    assert scale > 0
    diff = max(float((a - b).abs().max()) for a, b in zip(chain, other))
    assert diff <= 1e-8 * scale


def _meta_step_gradients(msrs_mini, task_kind, hypergrad, **kwargs):
    """One meta step in mode ``hypergrad``: the loss generator's gradient
    as its optimiser saw it, and the model after the step."""
    torch.manual_seed(0)
    b1, b2 = _batches(msrs_mini, task_kind)
    model, ow = _build(task_kind, hypergrad=hypergrad, **kwargs)
    hub = MessageHub.get_current_instance()
    hub.update_info('iter', 0)
    set_phase('meta')
    seen = {}
    step = ow['loss_generator'].step

    def recording_step(**kwargs):
        seen['grads'] = [
            p.grad.detach().clone() for p in model.loss_generator.parameters()
        ]
        # what the step sees of the other networks: nothing
        seen['other'] = [
            p.grad for name in ('fusion_net', 'task')
            for p in getattr(model, name).parameters()
        ]
        return step(**kwargs)

    ow['loss_generator'].step = recording_step
    torch.manual_seed(1)  # the task's dropout: same draws in both modes
    log = model.train_step([b1, b2], ow)
    return seen, model, log


@pytest.mark.parametrize('task_kind,mode,recompute',
                         [('seg', 'jvp', False), ('det', 'jvp', False),
                          ('seg', 'jvp', True),
                          ('seg', 'double_backward', False)])
def test_hypergradient_equals_full_backward(msrs_mini, task_kind, mode,
                                            recompute):
    """The loss generator's hypergradient of the meta step's default
    (``'jvp'``: first-order outer gradient and a forward-mode pass through
    the fusion net) and ``'double_backward'`` paths equals the pre-issue-15
    full ``.backward()`` one, in float32, and the resulting models are the
    same; the new paths compute no gradient for the fusion net or the task
    at all. ``recompute``: the loss generator run again for the
    hypergradient instead of keeping its graph."""
    # the segmentor at the HVP test's small sizes (the maths does not depend
    # on them); the detector at the default test sizes (anchors, RoIs)
    sizes = dict(fusion_crop_size=(24, 24), task_input_size=(32, 48)) \
        if task_kind == 'seg' else {}
    old, old_model, old_log = _meta_step_gradients(msrs_mini, task_kind,
                                                   'full_backward', **sizes)
    new, new_model, new_log = _meta_step_gradients(
        msrs_mini, task_kind, mode, recompute_generator=recompute, **sizes)
    scale = max(float(g.abs().max()) for g in old['grads'])
    assert scale > 0
    diff = max(
        float((a - b).abs().max()) for a, b in zip(old['grads'], new['grads']))
    # float32 rounding: 2.5e-7 (jvp, seg), 1.8e-7 (jvp, det), 0 (double)
    assert diff <= 1e-5 * scale, (diff, scale)
    # the old path computed (then discarded) fusion/task gradients ...
    assert any(g is not None for g in old['other'])
    # ... the new one none
    assert all(g is None for g in new['other'])
    assert float(new_log['meta.loss'].detach()) == \
        float(old_log['meta.loss'].detach())
    for name in ('loss_generator', 'fusion_net', 'task'):
        for a, b in zip(
                getattr(old_model, name).state_dict().values(),
                getattr(new_model, name).state_dict().values()):
            torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-8)


def test_hypergrad_options_are_validated():
    with pytest.raises(ValueError, match='hypergrad'):
        _build('seg', hypergrad='backward')
    # recomputing a loss generator with running statistics would move them
    # twice
    with pytest.raises(ValueError, match='buffer-free'):
        _build(
            'seg',
            recompute_generator=True,
            loss_generator=dict(type='_BNLossGenerator'))
    # 'auto' (default): only when exact
    assert not _build(
        'seg',
        loss_generator=dict(type='_BNLossGenerator'))[0].recompute_generator
    assert _build('seg')[0].recompute_generator


@MODELS.register_module(name='_BNLossGenerator', force=True)
class _BNLossGenerator(torch.nn.Module):
    """A loss generator with running statistics."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(2, 2, 1)
        self.bn = torch.nn.BatchNorm2d(2)

    def forward(self, a, b):
        x = self.bn(self.conv(torch.cat([a, b], 1)))
        return torch.softmax(x, dim=1)


def test_task_restore_survives_aliases_registered_in_forward():
    """The meta step restores the task after its temporary step by tensor:
    a model that registers an alias of its own modules in its first training
    forward (mmdet's DDQ-DETR: ``decoder.aux_reg_branches =
    bbox_head.aux_reg_branches``) made ``load_state_dict`` of the earlier
    snapshot fail with missing keys."""
    from mmfusion.models.algorithms.tdfusion import (_restore_tensors,
                                                     _snapshot_tensors)

    class Aliasing(torch.nn.Module):

        def __init__(self):
            super().__init__()
            self.decoder = torch.nn.Module()
            self.head = torch.nn.Linear(3, 3)
            self.norm = torch.nn.BatchNorm1d(3)

        def forward(self, x):
            self.decoder.branch = self.head  # an alias, as DDQ-DETR
            return self.norm(self.decoder.branch(x))

    torch.manual_seed(0)
    model = Aliasing()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    snapshot = _snapshot_tensors(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    assert not torch.equal(model.head.weight, before['head.weight'])
    with pytest.raises(RuntimeError, match='Missing key'):
        model.load_state_dict(before)  # what the meta step used to do
    _restore_tensors(model, snapshot)
    after = model.state_dict()
    for key, value in before.items():
        assert torch.equal(after[key], value), key
    assert model.decoder.branch.weight is model.head.weight
