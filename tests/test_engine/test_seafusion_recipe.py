"""SeAFusion against the released recipe (Linfeng-Tang/SeAFusion, issue 22):
the segmenter optimiser's weight-decay exemptions and heads' lr (its
optimizer.py + model_TII.py get_params), a new segmenter optimiser every
round (train.py train_seg), the segmenter's unnormalised [0, 1] input."""
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from test_seafusion import _batch, _build, _phase
from torch.nn.modules.batchnorm import _BatchNorm

from mmfusion.registry import MODELS, OPTIM_WRAPPER_CONSTRUCTORS

JOINT = 'configs/seafusion/seafusion_joint_msrs.py'


def _groups_by_param(optim):
    out = {}
    for group in optim.param_groups:
        for p in group['params']:
            out[id(p)] = group
    return out


def test_task_optimizer_exempts_norm_and_bias_from_weight_decay(repo_root):
    """Released: SGD(wd 5e-4) on conv/linear weights; BN weights and biases
    and conv biases in the weight_decay=0 groups; the heads (conv_out,
    conv_out16) at 10x the lr, their norm and bias still without decay."""
    init_default_scope('mmfusion')
    cfg = Config.fromfile(f'{repo_root}/{JOINT}')
    model = MODELS.build(cfg.model)
    ow = OPTIM_WRAPPER_CONSTRUCTORS.build(
        dict(
            type='MultiOptimWrapperConstructor',
            optim_wrapper_cfg={
                k: v
                for k, v in cfg.optim_wrapper.items() if k != 'constructor'
            }))(
                model)
    groups = _groups_by_param(ow['task'].optimizer)
    base_lr = cfg.optim_wrapper.task.optimizer.lr
    seen = dict(norm=0, bias=0, weight=0, head=0)
    for mod_name, module in model.task.model.named_modules():
        for name, p in module.named_parameters(recurse=False):
            group = groups[id(p)]
            is_head = mod_name.startswith(('decode_head', 'auxiliary_head'))
            assert group['lr'] == pytest.approx(base_lr *
                                                (10 if is_head else 1))
            if isinstance(module, _BatchNorm):
                kind, wd = 'norm', 0.
            elif name == 'bias':
                kind, wd = 'bias', 0.
            else:
                kind, wd = 'weight', 5e-4
            assert group['weight_decay'] == wd, (mod_name, name)
            seen[kind] += 1
            seen['head'] += is_head and kind in ('norm', 'bias')
    assert seen['norm'] > 0 and seen['bias'] > 0 and seen['weight'] > 0
    assert seen['head'] > 0  # the heads' norm/bias: decay-free as well
    # every parameter of the task has a group
    assert all(id(p) in groups for p in model.task.parameters())


def test_custom_key_with_its_own_decay_mult_keeps_it():
    init_default_scope('mmfusion')
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2),
        torch.nn.Conv2d(2, 2, 1))
    wrapper = OPTIM_WRAPPER_CONSTRUCTORS.build(
        dict(
            type='DecayRulesOptimWrapperConstructor',
            optim_wrapper_cfg=dict(
                optimizer=dict(type='SGD', lr=1., weight_decay=1.)),
            paramwise_cfg=dict(
                norm_decay_mult=0.,
                bias_decay_mult=0.,
                custom_keys={
                    '1.': dict(lr_mult=3.),
                    '2.bias': dict(lr_mult=2., decay_mult=0.5)
                })))(
                    net)
    groups = _groups_by_param(wrapper.optimizer)
    bn, conv2 = net[1], net[2]
    assert groups[id(bn.weight)]['lr'] == 3.
    assert groups[id(bn.weight)]['weight_decay'] == 0.  # rule kept
    assert groups[id(conv2.bias)]['weight_decay'] == 0.5  # key's own
    assert groups[id(conv2.weight)]['weight_decay'] == 1.
    assert groups[id(net[0].bias)]['weight_decay'] == 0.


def test_new_task_optimizer_every_round(repo_root, msrs_mini):
    """train_seg builds a new Optimizer (SGD momentum buffers) per round;
    within a round the momentum carries on."""
    batch = _batch(msrs_mini)

    def run(**kwargs):
        model, ow = _build(repo_root, **kwargs)
        _phase('task', 0, pos=0)
        model.train_step(batch, ow)  # round 0: momentum builds up
        state = ow['task'].optimizer.state
        for s in state.values():  # a huge stale momentum, easy to spot
            s['momentum_buffer'].fill_(1e6)
        _phase('task', 0, pos=1)
        model.train_step(batch, ow)  # same round: it carries on
        carried = min(
            float(s['momentum_buffer'].abs().min()) for s in state.values())
        for s in state.values():
            s['momentum_buffer'].fill_(1e6)
        _phase('task', 1, pos=0)
        model.train_step(batch, ow)  # round 1 starts
        after = max(
            float(s['momentum_buffer'].abs().max()) for s in state.values())
        return carried, after

    carried, after = run()
    assert carried > 1e5  # 0.9 x 1e6 + gradient
    assert after < 1e5  # a fresh SGD: the buffer is this step's gradient
    carried, after = run(reset_task_optimizer=False)
    assert carried > 1e5 and after > 1e5


def test_segmenter_sees_unnormalised_rgb(repo_root):
    cfg = Config.fromfile(f'{repo_root}/{JOINT}')
    dp = cfg.model.task.model.data_preprocessor
    assert list(dp.mean) == [0., 0., 0.] and list(dp.std) == [255.] * 3
    assert cfg.model.reset_task_optimizer is True
