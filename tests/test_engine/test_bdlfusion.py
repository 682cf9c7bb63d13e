"""BDLFusion: the first-order hypergradient against a brute-force evaluation
of the same formula, the aggregation rules, and the bi-level steps on a real
mmseg task model."""
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.logging import MessageHub
from mmengine.registry import init_default_scope
from torch.func import functional_call, grad

from mmfusion.models import aggregate_hypergradients
from mmfusion.registry import DATASETS, MODELS, OPTIM_WRAPPER_CONSTRUCTORS
from mmfusion.structures.phases import set_phase
from mmfusion.testing import tiny_segmentor

PIPELINE = [
    dict(type='LoadPairedImageFromFile'),
    dict(type='mmseg.LoadAnnotations'),
    dict(
        type='RandomResize',
        scale=(80, 60),
        ratio_range=(1., 1.),
        keep_ratio=True),
    dict(type='PackFusionInputs')
]


def _batches(msrs_mini, n=4, bs=2):
    init_default_scope('mmfusion')
    ds = DATASETS.build(
        dict(
            type='MSRSDataset',
            data_root=msrs_mini,
            data_prefix=dict(
                ir='train/ir', vis='train/vi',
                seg='train/Segmentation_labels'),
            pipeline=PIPELINE))
    return [
        pseudo_collate([ds[i * bs + j] for j in range(bs)]) for i in range(n)
    ]


def _build(**kwargs):
    init_default_scope('mmfusion')
    cfg = dict(
        type='BDLFusion',
        fusion_net=dict(type='SeAFusionNet', channels=(2, 2, 2)),
        discriminator=dict(type='PixelDiscriminator'),
        fusion_loss=dict(type='SaliencyTargetLoss'),
        task=dict(type='TaskAdapter', model=tiny_segmentor(9, 3)))
    cfg.update(kwargs)
    model = MODELS.build(cfg)
    ow = OPTIM_WRAPPER_CONSTRUCTORS.build(
        dict(
            type='MultiOptimWrapperConstructor',
            optim_wrapper_cfg=dict(
                fusion_net=dict(
                    optimizer=dict(type='SGD', lr=2e-4, weight_decay=1e-3)),
                discriminator=dict(
                    optimizer=dict(
                        type='SGD', lr=2e-4, momentum=0.9, weight_decay=1e-4)),
                task=dict(
                    optimizer=dict(
                        type='SGD', lr=2e-4, momentum=0.9,
                        weight_decay=1e-4)))))(
                            model)
    return model, ow


def _brute_force(model, follower, train, upper, eta):
    """h = grad_F F_up(v) + eta * c * grad_F f2(b), each gradient an
    independent torch.func evaluation of a pure function of the flat
    parameters (no shared graphs or buffers)."""
    fusion, disc = model.fusion_net, model.discriminator
    task = model.task
    names_f = [k for k, _ in fusion.named_parameters()]
    names_y = [k for k, _ in getattr(model, follower).named_parameters()]
    theta0 = {k: p.detach() for k, p in fusion.named_parameters()}
    y0 = {
        k: p.detach()
        for k, p in getattr(model, follower).named_parameters()
    }

    def fused_of(theta, batch):
        return functional_call(fusion, theta,
                               (batch['x']['ir'], batch['x']['vis_y']))

    def f_up(theta, y, batch):
        fused = fused_of(theta, batch)
        if follower == 'discriminator':
            return model.objective_fus(
                fused, batch['x'], lambda z: functional_call(disc, y, (z, )))
        t = lambda *a, **k: functional_call(task, y, a, k)  # noqa: E731
        return model.objective_task(
            fused, batch['x'], batch['samples'], task=t)[0]

    def f2(theta, batch):
        fused = fused_of(theta, batch)
        if follower == 'discriminator':
            return model.objective_fus_up(fused, batch['x'])
        return model.objective_task(fused, batch['x'], batch['samples'])[0]

    def flat(d, names):
        return torch.cat([d[k].reshape(-1) for k in names])

    g_theta = flat(grad(f_up, 0)(theta0, y0, upper), names_f)
    u = flat(grad(f_up, 1)(theta0, y0, upper), names_y)
    q = flat(grad(f_up, 1)(theta0, y0, train), names_y)
    c = (u @ q) / (q @ q)
    g_f2 = flat(grad(f2, 0)(theta0, train), names_f)
    return g_theta + eta * c * g_f2, c


@pytest.mark.parametrize('follower', ['discriminator', 'task'])
def test_hypergradient_equals_brute_force(msrs_mini, follower):
    torch.manual_seed(0)
    b_train, b_upper = _batches(msrs_mini, n=2)
    model, _ = _build()
    model = model.double().eval()  # eval: BN uses (fixed) running stats
    model._eta = 0.37  # any value: it is a coefficient of the formula
    prep = lambda b: model.data_preprocessor(b, True)  # noqa: E731
    tr, up = prep(b_train), prep(b_upper)
    train = dict(
        x={
            k: v.double()
            for k, v in tr['inputs'].items()
        },
        samples=tr['data_samples'])
    upper = dict(
        x={
            k: v.double()
            for k, v in up['inputs'].items()
        },
        samples=up['data_samples'])
    h, c = model.hypergradient(follower, train, upper)
    h_ref, c_ref = _brute_force(model, follower, train, upper, 0.37)
    assert h.shape == h_ref.shape == (sum(
        p.numel() for p in model.fusion_net.parameters()), )
    assert c.item() == pytest.approx(c_ref.item(), rel=1e-6, abs=1e-12)
    assert torch.allclose(h, h_ref, rtol=1e-6, atol=1e-9)
    assert h.abs().sum() > 0 and torch.isfinite(h).all()


def test_min_norm_balances_an_imbalanced_pair():
    big = torch.tensor([10.0, -1.0, 0.0])  # norm 50x the other's
    small = torch.tensor([0.2, 1.0, 0.0])
    g, w = aggregate_hypergradients([big, small], 'min_norm')
    # equal first-order decrease of both followers' objectives
    assert (g @ big).item() == pytest.approx((g @ small).item(), rel=1e-5)
    assert (g @ small) > 0
    assert w.sum().item() == pytest.approx(1.0)
    assert w[1] > w[0]  # the small gradient gets the large weight
    # the plain mean is dominated by the big one
    m, _ = aggregate_hypergradients([big, small], 'mean')
    assert (m @ big) / (m @ small) > 40
    # when one gradient already decreases both objectives, min-norm is it
    g, w = aggregate_hypergradients([torch.tensor([100.0, 0.0, 3.0]), small],
                                    'min_norm')
    assert torch.equal(g, small) and w[0] == 0
    # a pair pointing the same way: plain min-norm point (the smaller one)
    g, w = aggregate_hypergradients(
        [torch.tensor([2.0, 0.]),
         torch.tensor([1.0, 0.])], 'min_norm')
    assert torch.allclose(g, torch.tensor([1.0, 0.]))


def test_random_and_normalized_rules():
    a, b = torch.tensor([3.0, 0.0]), torch.tensor([0.0, 1.0])
    g1, w1 = aggregate_hypergradients([a, b], 'random',
                                      torch.Generator().manual_seed(5))
    g2, w2 = aggregate_hypergradients([a, b], 'random',
                                      torch.Generator().manual_seed(5))
    assert torch.equal(g1, g2) and w1.sum().item() == pytest.approx(1.0)
    assert torch.allclose(g1, (w1[0] * a + w1[1] * b) / 2)
    g, _ = aggregate_hypergradients([a, b], 'normalized')
    assert g[0].item() == pytest.approx(g[1].item())  # equal shares
    with pytest.raises(ValueError, match='aggregation'):
        aggregate_hypergradients([a, b], 'bogus')


def test_bilevel_steps_move_the_right_networks(msrs_mini):
    torch.manual_seed(0)
    b_train, b_upper = _batches(msrs_mini, n=2)
    model, ow = _build()
    hub = MessageHub.get_current_instance()
    hub.update_info('iter', 9)

    def snap():
        return {
            name:
            [p.detach().clone() for p in getattr(model, name).parameters()]
            for name in ('fusion_net', 'discriminator', 'task')
        }

    def moved(before, name):
        return any(not torch.equal(a, b)
                   for a, b in zip(before[name],
                                   getattr(model, name).parameters()))

    set_phase('lower')
    before = snap()
    log = model.train_step(b_train, ow)
    assert 'task.loss_task' in log and 'disc.loss_fus' in log
    assert moved(before, 'discriminator') and moved(before, 'task')
    assert not moved(before, 'fusion_net')  # the leader waits

    set_phase('upper')
    before = snap()
    log = model.train_step([b_train, b_upper], ow)
    assert moved(before, 'fusion_net')
    assert torch.isfinite(
        log['upper.grad_norm']) and log['upper.grad_norm'] > 0
    assert log['upper.w_disc'] + log['upper.w_task'] == pytest.approx(1.0)
    # the leader's lr follows the task's (published: eta = task lr)
    assert ow['fusion_net'].get_lr()['lr'][0] == ow['task'].get_lr()['lr'][0]


def test_predict_with_batch_padding_is_at_image_size(repo_root):
    """With the fusion preprocessor padding the batch (size_divisor 32:
    60x80 -> 64x96), validation must score the task's prediction of the
    image at the image's size against the unpadded label: the same
    prediction as without padding (before: labels padded at test time and
    predictions of the padded image squeezed to the image's size, which
    mmseg's IoUMetric refused)."""
    import os.path as osp
    batch = _batches(osp.join(repo_root, 'data', 'msrs_demo'), n=1)[0]
    torch.manual_seed(0)
    padded, _ = _build(
        data_preprocessor=dict(type='FusionDataPreprocessor', size_divisor=32))
    plain, _ = _build(data_preprocessor=dict(type='FusionDataPreprocessor'))
    plain.load_state_dict(padded.state_dict())
    padded.eval()
    plain.eval()
    with torch.no_grad():
        a = padded.test_step(batch)
        b = plain.test_step(
            _batches(osp.join(repo_root, 'data', 'msrs_demo'), n=1)[0])
    for sa, sb in zip(a, b):
        assert sa.pad_shape == (64, 96) and sb.pad_shape == (60, 80)
        # the label is left as loaded at test time
        assert torch.equal(sa.gt_sem_seg.data, sb.gt_sem_seg.data)
        assert sa.pred_sem_seg.data.shape == sb.pred_sem_seg.data.shape
        assert torch.equal(sa.pred_sem_seg.data, sb.pred_sem_seg.data)
        assert sa.pred_fused.data.shape[-2:] == (60, 80)
