"""BDLFusion against the released recipe (LiuZhu-CV/BDLFusion, issue 22):
no task-side gradient reaches the discriminator's update, and the default
aggregation is what the released code computes."""
import copy

import torch
from test_bdlfusion import _batches, _build

from mmfusion.models import aggregate_hypergradients
from mmfusion.structures.phases import set_phase


def _disc_grads(model):
    return [p.grad for p in model.discriminator.parameters()]


def test_task_update_leaves_no_gradient_in_the_discriminator(msrs_mini):
    """The task objective's -0.01 mean D(F) runs through D; its gradient
    must not be left in D's .grad, where D's next update would add it (the
    released loop zeroes D's gradients before D's backward)."""
    torch.manual_seed(0)
    batch = _batches(msrs_mini, n=1)[0]
    model, ow = _build()
    set_phase('lower')
    model.train_step(batch, ow)
    leaked = [
        g for g in _disc_grads(model) if g is not None and g.abs().sum() > 0
    ]
    assert leaked == []


def test_two_lower_steps_equal_steps_with_cleared_gradients(msrs_mini):
    """Two iterations in float64 against the same two iterations with D's
    gradients cleared by hand before each (no stale gradient possible)."""
    torch.manual_seed(0)
    b1, b2 = _batches(msrs_mini, n=2)
    model, ow = _build()
    model = model.double()
    ref = copy.deepcopy(model)
    start = [p.detach().clone() for p in model.discriminator.parameters()]
    ref_ow = _rebuild_optim(ref)
    ow = _rebuild_optim(model)

    def prep(m, batch):
        data = m.data_preprocessor(copy.deepcopy(batch), True)
        data['inputs'] = {k: v.double() for k, v in data['inputs'].items()}
        return data

    for b in (b1, b2):
        model.lower_step(prep(model, b), ow)
        ref_ow['discriminator'].zero_grad()
        ref.lower_step(prep(ref, b), ref_ow)
        ref_ow['discriminator'].zero_grad()
    moved = [(p - q0).abs().max()
             for p, q0 in zip(model.discriminator.parameters(), start)]
    assert min(moved) > 0
    for p, q in zip(model.discriminator.parameters(),
                    ref.discriminator.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-12, atol=1e-15)


def _rebuild_optim(model):
    from mmfusion.registry import OPTIM_WRAPPER_CONSTRUCTORS
    sgd = dict(type='SGD', lr=2e-2, momentum=0.9, weight_decay=1e-4)
    return OPTIM_WRAPPER_CONSTRUCTORS.build(
        dict(
            type='MultiOptimWrapperConstructor',
            optim_wrapper_cfg=dict(
                fusion_net=dict(
                    optimizer=dict(type='SGD', lr=2e-4, weight_decay=1e-3)),
                discriminator=dict(optimizer=sgd),
                task=dict(optimizer=sgd))))(
                    model)


def test_mean_is_what_the_released_aggregation_computes():
    """architect_average2.py: both branches hand back the leader's .grad
    tensors themselves; the second backward and the in-place updates
    accumulate into them, so softmax-weighted 'averaging' of the two returns
    (h1 + h2) / 2 whatever the weights. Replayed here with autograd's own
    accumulation on a toy leader."""
    torch.manual_seed(0)
    theta = torch.randn(5, requires_grad=True)
    x1, x2, z1, z2 = torch.randn(4, 5)
    eta = 0.3

    def branch(x, z):
        (theta * x).sin().sum().backward()  # accumulates into theta.grad
        grads = [theta.grad]  # the tensor itself, not a copy
        implicit = torch.autograd.grad((theta * z).cos().sum(), theta)[0]
        grads[0].sub_(eta * implicit)  # in place, as `g.data.sub_(eta, ig)`
        return grads

    theta.grad = None
    d1 = branch(x1, z1)
    d2 = branch(x2, z2)
    w = torch.softmax(torch.randn(2), -1)
    released = d1[0] * w[0] * 0.5 + d2[0] * w[1] * 0.5

    def h(x, z):  # each branch's own hypergradient, computed apart
        g = torch.autograd.grad((theta * x).sin().sum(), theta)[0]
        return g - eta * torch.autograd.grad((theta * z).cos().sum(), theta)[0]

    h1, h2 = h(x1, z1), h(x2, z2)
    mean, weights = aggregate_hypergradients([h1, h2], 'mean')
    torch.testing.assert_close(released, mean)
    assert torch.equal(weights, torch.tensor([0.5, 0.5]))
    # the weights as written (the 'random' option) give another update
    as_written = (w[0] * h1 + w[1] * h2) / 2
    assert not torch.allclose(released, as_written)


def test_default_aggregation_is_the_released_codes():
    model, _ = _build()
    assert model.aggregation == 'mean'
    g, w = aggregate_hypergradients(
        [torch.tensor([1., 0.]),
         torch.tensor([0., 3.])])
    assert torch.equal(g, torch.tensor([0.5, 1.5]))
