"""TarDAL's training parts: the MS-SSIM + L1 source loss against a direct
2-D formulation (the released kornia layout), the Sobel magnitude, the
critic, the box mask, and the algorithm's steps (what each update sees and
changes, the released no-gradient detector input, the non-finite guard)."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.optim import OptimWrapper, OptimWrapperDict
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

from mmfusion.models.algorithms.tardal import TarDAL, boxes_to_mask
from mmfusion.models.fusion_nets.tardal_discriminator import \
    TarDALDiscriminator
from mmfusion.models.losses.tardal_loss import (MSSSIML1Loss,
                                                TarDALContentLoss,
                                                sobel_magnitude,
                                                wgan_div_penalty)
from mmfusion.registry import MODELS
from mmfusion.structures import FusionDataSample, phase_scope
from mmfusion.testing import tiny_detector


def _direct_ms_ssim_l1(x, y, copies=3):
    """The loss with the 2-D masks as kornia >= 0.6.8 stored them (each
    scale ``copies`` times, the last three entries the coarsest scale) and
    direct 33x33 convolutions."""
    sigmas, pad, size = (0.5, 1., 2., 4., 8.), 16, 33
    c = torch.arange(size, dtype=torch.float64) - size // 2
    masks = []
    for s in sigmas:
        g = torch.exp(-c**2 / (2 * s**2))
        g = g / g.sum()
        masks += [torch.outer(g, g)] * copies
    m = torch.stack(masks).unsqueeze(1).to(x)
    c1, c2 = 0.01**2, 0.03**2
    mux, muy = F.conv2d(x, m, padding=pad), F.conv2d(y, m, padding=pad)
    sx = F.conv2d(x * x, m, padding=pad) - mux**2
    sy = F.conv2d(y * y, m, padding=pad) - muy**2
    sxy = F.conv2d(x * y, m, padding=pad) - mux * muy
    lum = (2 * mux * muy + c1) / (mux**2 + muy**2 + c1)
    cs = (2 * sxy + c2) / (sx + sy + c2)
    lm = lum[:, -copies:].prod(1)
    l1 = F.conv2d((x - y).abs(), m[-1:], padding=pad)[:, 0]
    return (200 * (0.025 * (1 - lm * cs.prod(1)) + 0.975 * l1)).mean()


@pytest.mark.parametrize('copies', [3, 1])
def test_ms_ssim_l1_equals_the_direct_formulation(copies):
    torch.manual_seed(0)
    x = torch.rand(2, 1, 37, 45, dtype=torch.float64, requires_grad=True)
    y = torch.rand(2, 1, 37, 45, dtype=torch.float64)
    got = MSSSIML1Loss(copies=copies)(x, y)
    want = _direct_ms_ssim_l1(x, y, copies)
    assert torch.allclose(got, want, rtol=1e-12, atol=0)
    g1, = torch.autograd.grad(got, x)
    g2, = torch.autograd.grad(want, x)
    assert torch.allclose(g1, g2, rtol=1e-9, atol=1e-15)
    assert MSSSIML1Loss()(y, y).abs().item() < 1e-12
    with pytest.raises(ValueError, match=r'\(N, 1, H, W\)'):
        MSSSIML1Loss()(x.expand(-1, 3, -1, -1), y.expand(-1, 3, -1, -1))


def test_content_loss_weights_both_sources():
    torch.manual_seed(0)
    f, ir, vis = torch.rand(3, 2, 1, 40, 40).unbind(0)
    loss = TarDALContentLoss(loss_weight=0.8, ir_weight=0.3, vis_weight=0.7)
    src = MSSSIML1Loss()
    want = 0.8 * (0.3 * src(f, ir) + 0.7 * src(f, vis))
    assert torch.allclose(loss(f, ir, vis)['loss_src'], want)
    maps = dict(ir=torch.full_like(f, 0.3), vis=torch.full_like(f, 0.7))
    assert torch.allclose(
        loss(f, ir, vis, pixel_weights=maps)['loss_src'], want)


def test_sobel_magnitude():
    ramp = torch.arange(8.).reshape(1, 1, 1, 8).expand(1, 1, 6, 8) * 0.1
    g = sobel_magnitude(ramp, eps=0.)
    # normalised Sobel: (1 + 2 + 1) x (x[j+1] - x[j-1]) / 8 = the slope
    assert torch.allclose(g[..., 1:-1], torch.full_like(g[..., 1:-1], 0.1))
    # replicate padding: half the slope at the left and right borders
    assert torch.allclose(g[..., 0], torch.full_like(g[..., 0], 0.05))
    flat = sobel_magnitude(torch.ones(1, 1, 5, 5))
    assert torch.allclose(flat, torch.full_like(flat, 1e-4))


def test_discriminator_layout_and_size():
    d = TarDALDiscriminator(dim=32, size=(320, 320))
    assert sum(p.numel() for p in d.parameters()) == 297473
    assert [k for k in d.state_dict()] == [
        'conv.0.0.weight', 'conv.0.0.bias', 'conv.1.0.weight', 'conv.1.0.bias',
        'conv.2.0.weight', 'conv.2.0.bias', 'linear.weight', 'linear.bias'
    ]
    assert d(torch.rand(2, 1, 320, 320)).shape == (2, 1)
    with pytest.raises(ValueError, match='320x320'):
        d(torch.rand(2, 1, 240, 320))
    resized = TarDALDiscriminator(dim=4, size=(64, 64), resize_input=True)
    assert resized(torch.rand(1, 1, 48, 80)).shape == (1, 1)


def test_div_penalty_is_the_gradient_norm_power():
    torch.manual_seed(0)
    lin = torch.nn.Linear(12, 1)
    critic = torch.nn.Sequential(torch.nn.Flatten(), lin)
    real, fake = torch.rand(2, 1, 3, 4), torch.rand(2, 1, 3, 4)
    alpha = torch.tensor([0.2, 0.7]).view(2, 1, 1, 1)
    div = wgan_div_penalty(critic, real, fake, alpha, p=6)
    # a linear critic's input gradient is its weight, whatever the input
    want = (lin.weight.detach() + 1e-6).norm()**6
    assert torch.allclose(div, want)
    div.backward()  # differentiable w.r.t. the critic
    assert lin.weight.grad is not None and lin.weight.grad.abs().sum() > 0


def _sample(boxes, h=16, w=20):
    s = FusionDataSample()
    s.set_metainfo(dict(img_shape=(h, w)))
    s.gt_instances = InstanceData(
        bboxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
        labels=torch.zeros(len(boxes), dtype=torch.long))
    return s


def test_boxes_to_mask():
    like = torch.zeros(1)
    m = boxes_to_mask([_sample([[2.5, 1., 5., 3.2]]),
                       _sample([])], (16, 20), like)
    assert m.shape == (2, 1, 16, 20)
    want = torch.zeros(16, 20)
    want[1:4, 2:5] = 1  # every pixel the box touches
    assert torch.equal(m[0, 0], want)
    assert m[1].sum() == 0
    bare = FusionDataSample()
    with pytest.raises(KeyError, match='gt_instances.bboxes'):
        boxes_to_mask([bare], (4, 4), like)


# ------------------------------------------------------------- algorithm
SIZE = 32


def build_tardal(
        optimizers=('fusion_net', 'task', 'target_discriminator',
                    'detail_discriminator'),
        **kwargs):
    cfg = dict(
        type='TarDAL',
        fusion_net=dict(type='TarDALGenerator', dim=4, depth=2),
        fusion_loss=dict(type='TarDALContentLoss'),
        target_discriminator=dict(
            type='TarDALDiscriminator', dim=4, size=(SIZE, SIZE)),
        detail_discriminator=dict(
            type='TarDALDiscriminator', dim=4, size=(SIZE, SIZE)),
        task=dict(type='TaskAdapter', model=tiny_detector(3)))
    cfg.update(kwargs)
    init_default_scope('mmfusion')
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    ow = OptimWrapperDict(
        **{
            name:
            OptimWrapper(
                torch.optim.SGD(getattr(model, name).parameters(), lr=1e-2))
            for name in optimizers
        })
    return model, ow


def batch(n=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for _ in range(n):
        inputs.append(
            torch.randint(
                0, 256, (4, SIZE, SIZE), generator=g, dtype=torch.uint8))
        s = _sample([[4., 6., 20., 30.], [22., 2., 31., 12.]], SIZE, SIZE)
        s.set_metainfo(dict(ori_shape=(SIZE, SIZE), pad_shape=(SIZE, SIZE)))
        s.gt_instances.labels = torch.tensor([0, 2])
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def states(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def changed(before, after, prefix):
    return any(not torch.equal(before[k], after[k]) for k in before
               if k.startswith(prefix) and before[k].is_floating_point())


def test_phases_and_what_each_update_changes():
    assert [s.name for s in TarDAL.PHASES] == ['warmup', 'joint']
    for phase, adv in (('warmup', False), ('joint', True)):
        model, ow = build_tardal()
        before = states(model)
        with phase_scope(phase):
            log = model.train_step(batch(), ow)
        assert ('fusion.loss_target' in log) is adv
        assert ('fusion.loss_detail' in log) is adv
        for key in ('fusion.loss_src', 'task.loss_cls', 'target.loss_critic',
                    'detail.loss_critic'):
            assert torch.isfinite(log[key]), key
        after = states(model)
        for name in ('fusion_net.', 'task.', 'target_discriminator.',
                     'detail_discriminator.'):
            assert changed(before, after, name), (phase, name)
    with pytest.raises(RuntimeError, match='declared phases'):
        with phase_scope('meta'):
            model.train_step(batch(), ow)


def test_released_detector_input_carries_no_gradient():
    """task_to_fusion=False (released): the generator's step does not
    depend on the detection loss (its weight b_d changes nothing in the
    generator); task_to_fusion=True: it does."""

    def generator_after(**kwargs):
        model, ow = build_tardal(**kwargs)
        with phase_scope('joint'):
            model.train_step(batch(), ow)
        return {
            k: v
            for k, v in states(model).items() if k.startswith('fusion_net.')
        }

    a = generator_after(bridge=dict(fusion=0.5, task=0.5))
    b = generator_after(bridge=dict(fusion=0.5, task=5.0))
    assert all(torch.equal(a[k], b[k]) for k in a)
    c = generator_after(bridge=dict(fusion=0.5, task=0.5), task_to_fusion=True)
    assert any(not torch.equal(a[k], c[k]) for k in a
               if a[k].is_floating_point())


def test_generator_step_leaves_no_gradient_in_the_critics():
    model, ow = build_tardal()
    data = model.data_preprocessor(batch(), True)
    mask = model.target_mask(data['inputs'], data['data_samples'])
    with phase_scope('joint'):
        model.generator_task_step(data['inputs'], data['data_samples'], mask,
                                  ow, True)
    for name in ('target_discriminator', 'detail_discriminator'):
        assert all(p.grad is None
                   for p in getattr(model, name).parameters()), name


def test_nonfinite_critic_is_skipped_alone():
    model, ow = build_tardal()
    with torch.no_grad():
        model.target_discriminator.linear.weight[0, 0] = float('nan')
    before = states(model)
    with phase_scope('warmup'):  # the generator does not use the critics
        log = model.train_step(batch(), ow)
    after = states(model)
    assert float(log['nonfinite_skipped']) == 1
    assert all(
        torch.equal(before[k], after[k]) or
        (before[k].isnan() == after[k].isnan()).all()
        and torch.equal(before[k].nan_to_num(), after[k].nan_to_num())
        for k in before if k.startswith('target_discriminator.'))
    for name in ('fusion_net.', 'task.', 'detail_discriminator.'):
        assert changed(before, after, name), name


def test_needs_a_task_and_box_labels():
    with pytest.raises(TypeError, match='needs a task'):
        build_tardal(task=None)
    model, _ = build_tardal()
    with pytest.raises(ValueError, match='box labels'):
        model.check_targets([FusionDataSample()])


def test_task_free_twin():
    """task_driven=False (the task-gain twin): no detector, the generator
    and both critics trained as with one. As released (task_to_fusion=False)
    the detector never reaches them: from the same weights, method and twin
    stay equal over warm-up and joint steps; in the paper's mode
    (task_to_fusion=True) the generator departs from the twin's."""
    critics = ('fusion_net', 'target_discriminator', 'detail_discriminator')
    twin, twin_ow = build_tardal(
        optimizers=critics, task=None, task_driven=False)
    assert twin.task is None
    method, method_ow = build_tardal()
    paper, paper_ow = build_tardal(task_to_fusion=True)
    shared = {
        k: v
        for k, v in states(method).items() if not k.startswith('task.')
    }
    assert set(shared) == set(states(twin))
    twin.load_state_dict(shared)
    paper.load_state_dict(states(method))
    for i, phase in enumerate(('warmup', 'joint', 'joint')):
        logs = []
        for model, ow in ((method, method_ow), (twin, twin_ow), (paper,
                                                                 paper_ow)):
            with phase_scope(phase):
                logs.append(model.train_step(batch(seed=i), ow))
        assert not any(k.startswith('task.') for k in logs[1])
        assert torch.equal(logs[0]['fusion.loss_src'],
                           logs[1]['fusion.loss_src'])
    got, want = states(twin), states(method)
    assert all(torch.equal(got[k], want[k]) for k in got)
    departed = states(paper)
    assert any(not torch.equal(departed[k], want[k]) for k in got
               if k.startswith('fusion_net.') and got[k].is_floating_point())
    with pytest.raises(ValueError, match='has no detector'):
        build_tardal(task_driven=False)
    with pytest.raises(ValueError, match='task_to_fusion=False'):
        build_tardal(task=None, task_driven=False, task_to_fusion=True)
