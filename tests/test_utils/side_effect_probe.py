# Copyright (c) mmfusion contributors. All rights reserved.
"""Run by tests/test_utils/test_no_side_effects.py in a fresh interpreter.

``python side_effect_probe.py plain WORK_DIR``: a plain mmengine Runner
(toy model, mmdet-style: no mmfusion anywhere) trains 2 iterations with a
checkpoint after each and resumes to 3, once with torch's default
(``weights_only``) loading and once with ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD``;
prints what it saw as JSON.

``python side_effect_probe.py mmfusion WORK_DIR REPO_ROOT MSRS_MINI``: first
records every attribute of every loaded module of mmengine, mmseg and mmdet
(and of the classes they define), then imports mmfusion, builds a
TaskAdapter (an mmseg segmentor with a class-weighted cross-entropy) and a
FusionRunner from an mmfusion config, trains and resumes it, and lists every
recorded attribute that is no longer the same object; then the plain run.
"""
import copyreg
import json
import os
import os.path as osp
import re
import sys

PACKAGES = ('mmengine', 'mmseg', 'mmdet')

# mmengine's own bookkeeping, which it updates whenever it is used (a plain
# Runner too): instance registries and caches, and the slot names copyreg
# caches on a class it copies
STATE = ('_instance_dict', '_instances', '_statistics_methods',
         '__slotnames__')


def snapshot() -> dict:
    """``{dotted name: object}`` for every attribute of every loaded module
    of PACKAGES, every entry of the classes they define (but STATE), and
    every item of those classes' dict attributes (e.g. mmengine's checkpoint
    schemes)."""
    seen = {}
    for name, module in list(sys.modules.items()):
        if module is None or name.split('.')[0] not in PACKAGES:
            continue
        for attr, value in list(vars(module).items()):
            seen[f'{name}:{attr}'] = value
            if not (isinstance(value, type)
                    and getattr(value, '__module__', None) == name):
                continue
            for key, member in list(vars(value).items()):
                if key in STATE:
                    continue
                seen[f'{name}:{attr}.{key}'] = member
                if isinstance(member, dict):
                    for item, entry in list(member.items()):
                        seen[f'{name}:{attr}.{key}[{item!r}]'] = entry
    return seen


def _owner(key: str) -> str:
    """``module:Class`` of a class entry's key."""
    module, rest = key.split(':', 1)
    return f'{module}:{rest.split(".")[0]}'


def changes(before: dict, after: dict) -> list:
    """Recorded entries that are now another object or gone, and entries
    new in a class recorded before (a patched-in attribute)."""
    changed = [
        k for k, v in before.items() if k not in after or after[k] is not v
    ]
    classes = {_owner(k) for k in before if '.' in k.split(':', 1)[1]}
    added = [
        k for k in after if k not in before and '.' in k.split(':', 1)[1]
        and _owner(k) in classes
    ]
    return sorted(changed + added)


def process_state() -> dict:
    import torch
    return dict(
        safe_globals=sorted(map(str, torch.serialization.get_safe_globals())),
        meta_path=[id(f) for f in sys.meta_path],
        dispatch_table=sorted(map(str, copyreg.dispatch_table)))


def plain_run(work_dir: str, no_weights_only: bool) -> dict:
    """A plain mmengine Runner: 2 iterations, a checkpoint after each, then
    auto-resume to 3. What it saved and how the resume went."""
    import torch
    import torch.nn as nn
    from mmengine.model import BaseModel
    from mmengine.runner import Runner
    from torch.utils.data import Dataset

    if no_weights_only:
        os.environ['TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'] = '1'
    else:
        os.environ.pop('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', None)

    class Toy(BaseModel):

        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(2, 1)

        def forward(self, inputs, data_samples=None, mode='tensor'):
            out = self.linear(torch.stack(inputs))
            if mode == 'loss':
                return dict(loss=((out - torch.stack(data_samples))**2).mean())
            return out

    class Points(Dataset):

        def __len__(self):
            return 8

        def __getitem__(self, i):
            return dict(
                inputs=torch.tensor([i / 8, 1.0]),
                data_samples=torch.tensor([i % 3 / 3]))

    def runner(max_iters, resume, name):
        torch.manual_seed(0)  # the toy's initial weights, in any process
        return Runner(
            model=Toy(),
            work_dir=work_dir,
            experiment_name=name,
            train_dataloader=dict(
                dataset=Points(),
                sampler=dict(type='DefaultSampler', shuffle=False),
                collate_fn=dict(type='pseudo_collate'),
                batch_size=2,
                num_workers=0),
            optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
            train_cfg=dict(by_epoch=False, max_iters=max_iters),
            default_hooks=dict(
                checkpoint=dict(
                    type='CheckpointHook', interval=1, by_epoch=False)),
            randomness=dict(seed=0),
            resume=resume,
            default_scope='mmengine')

    def weights(model):
        return {k: v.tolist() for k, v in model.state_dict().items()}

    tag = 'nowo' if no_weights_only else 'wo'
    seen = dict(first=weights(runner(2, False, f'{tag}_a').train()))
    for name in sorted(os.listdir(work_dir)):
        path = osp.join(work_dir, name)
        if name.endswith('.pth'):
            ckpt = torch.load(path, weights_only=False)
            seen[name] = dict(
                keys=sorted(ckpt),
                meta={
                    k: v
                    for k, v in ckpt['meta'].items()
                    if k in ('epoch', 'iter', 'seed')
                },
                state=weights_of(ckpt['state_dict']),
                globals=sorted(
                    torch.serialization.get_unsafe_globals_in_checkpoint(
                        path)))
    seen['files'] = sorted(
        re.sub(r'^\d{8}_\d{6}', 'TIMESTAMP', n) for n in os.listdir(work_dir))
    resumed = runner(3, True, f'{tag}_b')
    try:
        model = resumed.train()
        seen['resume'] = dict(iter=resumed.iter, state=weights(model))
    except Exception as e:  # what a user of mmengine would see
        seen['resume'] = f'{type(e).__name__}: ' + str(e).replace(
            work_dir, 'WORK')
    return seen


def weights_of(state_dict):
    return {k: v.tolist() for k, v in state_dict.items()}


def mmfusion_steps(work_dir: str, repo_root: str, msrs_mini: str) -> dict:
    """What a user of mmfusion does: import it, build a task adapter and a
    runner from an mmfusion config, train, save, resume; what it got."""
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import mmfusion  # noqa: F401
    from mmfusion.registry import MODELS
    from mmfusion.testing._models import tiny_segmentor
    from mmfusion.utils import set_unique_run_name

    init_default_scope('mmfusion')
    seg = tiny_segmentor()
    seg['decode_head']['loss_decode']['class_weight'] = [1.0] * 9
    adapter = MODELS.build(dict(type='TaskAdapter', model=seg))
    loss = adapter.model.decode_head.loss_decode
    label = torch.full((1, 8, 8), 255)
    label[0, :4] = 1
    facts = dict(
        loss=type(loss).__name__,
        finite=bool(
            torch.isfinite(
                loss(torch.randn(1, 9, 8, 8), label, ignore_index=255))))
    try:
        from mmfusion.engine.runner import build_runner
    except ImportError:  # (mmfusion before issue 24: the probe of old code)
        from mmengine.runner import Runner
        build_runner = Runner.from_cfg

    def cfg(max_iters, resume, name):
        c = Config.fromfile(
            osp.join(repo_root, 'configs/seafusion/seafusion_content_demo.py'))
        c.work_dir = osp.join(work_dir, 'fusion')
        c.train_dataloader.dataset.data_root = msrs_mini
        c.train_dataloader.dataset.pipeline[3].crop_size = (32, 32)
        c.train_dataloader.batch_size = 1
        c.train_cfg = dict(
            type='IterBasedTrainLoop', max_iters=max_iters, val_interval=99)
        c.val_cfg = c.val_dataloader = c.val_evaluator = None
        c.test_cfg = c.test_dataloader = c.test_evaluator = None
        c.default_hooks.checkpoint = dict(
            type='CheckpointHook', interval=1, by_epoch=False)
        c.resume = resume
        set_unique_run_name(c, name)
        return c

    runner = build_runner(cfg(1, False, 'fusion_a'))
    facts['runner'] = type(runner).__name__
    runner.train()
    runner = build_runner(cfg(2, True, 'fusion_b'))
    runner.train()
    facts['resumed_to'] = runner.iter
    return facts


def main() -> None:
    mode, work_dir = sys.argv[1], sys.argv[2]
    out = {}
    if mode == 'mmfusion':
        import mmdet.models  # noqa: F401  (what mmfusion could touch)
        import mmengine.dist  # noqa: F401
        import mmengine.infer  # noqa: F401
        import mmengine.model  # noqa: F401
        import mmengine.runner  # noqa: F401
        import mmseg.models  # noqa: F401
        import torch._dynamo  # noqa: F401  (adds to torch's allow-list)
        before, state = snapshot(), process_state()
        assert 'mmfusion' not in sys.modules
        out['mmfusion'] = mmfusion_steps(work_dir, sys.argv[3], sys.argv[4])
        out['recorded'] = len(before)
        out['changed'] = changes(before, snapshot())
        out['process'] = [
            k for k, v in process_state().items() if v != state[k]
        ]
    for no_wo in (False, True):
        folder = osp.join(work_dir, 'plain_nowo' if no_wo else 'plain_wo')
        os.makedirs(folder)
        out['plain_nowo' if no_wo else 'plain_wo'] = plain_run(folder, no_wo)
    print('PROBE ' + json.dumps(out))


if __name__ == '__main__':
    main()
