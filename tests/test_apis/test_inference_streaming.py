# Copyright (c) mmfusion contributors. All rights reserved.
"""Streaming inference (read / fuse / write overlapped, results as they come,
resumable, whole files only) and the inference backends (ONNX Runtime, bf16
autocast), on the bundled MSRS pairs."""
import os
import os.path as osp
import shutil
import subprocess
import sys
import textwrap

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import save_checkpoint

from mmfusion.apis import FusionInferencer
from mmfusion.apis.inference_backends import (AutocastFusionNet, ORTFusionNet,
                                              build_inference_net,
                                              missing_onnx_packages)
from mmfusion.registry import MODELS

DEMO = 'configs/seafusion/seafusion_content_demo.py'


def require_onnx():
    """ONNX Runtime is the default inference backend and tools/install.sh
    installs it: its absence fails these tests (no silent skip), unless
    ``MMFUSION_NO_ONNX=1`` opts out explicitly."""
    missing = missing_onnx_packages()
    if not missing:
        return
    if os.environ.get('MMFUSION_NO_ONNX') == '1':
        pytest.skip(f'MMFUSION_NO_ONNX=1 and {missing} not installed')
    pytest.fail(
        f'{", ".join(missing)} not installed: ONNX Runtime is the default '
        'inference backend (tools/fuse.py --backend auto); `bash '
        'tools/install.sh` installs it (requirements/inference.txt), '
        'MMFUSION_NO_ONNX=1 skips these tests',
        pytrace=False)


@pytest.fixture
def onnx_required():
    require_onnx()


needs_ort = pytest.mark.usefixtures('onnx_required')


@pytest.fixture(scope='module')
def demo(repo_root, tmp_path_factory):
    """(config, checkpoint, folder of 12 pairs: the bundled MSRS demo).
    The demo's SeAFusion net, narrowed (the inference path is the same, the
    forward ~20x cheaper)."""
    init_default_scope('mmfusion')
    torch.manual_seed(0)
    tmp = tmp_path_factory.mktemp('stream')
    config = str(tmp / 'narrow_demo.py')
    with open(config, 'w') as f:
        f.write(f"_base_ = [{osp.join(repo_root, DEMO)!r}]\n"
                "model = dict(fusion_net=dict(channels=(4, 8, 12)))\n")
    model = MODELS.build(Config.fromfile(config).model)
    model.init_weights()
    ckpt = str(tmp / 'demo.pth')
    save_checkpoint({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    pairs = tmp / 'pairs'
    for modality, sub in (('ir', 'ir'), ('vi', 'vi')):
        os.makedirs(pairs / modality)
        for split in ('train', 'test'):
            src = osp.join(repo_root, 'data', 'msrs_demo', split, sub)
            for name in sorted(os.listdir(src)):
                shutil.copy(osp.join(src, name), pairs / modality / name)
    return config, ckpt, str(pairs)


@pytest.mark.slow
def test_stream_yields_in_order_and_equals_the_call(demo, tmp_path):
    config, ckpt, pairs = demo
    fuser = FusionInferencer(config, ckpt, device='cpu', show_progress=False)
    ir, vi = osp.join(pairs, 'ir'), osp.join(pairs, 'vi')
    names = sorted(n[:-4] for n in os.listdir(ir))[:5]
    irs = [osp.join(ir, n + '.png') for n in names]
    vis = [osp.join(vi, n + '.png') for n in names]
    out = tmp_path / 'out'
    seen = []
    for entry in fuser.stream(irs, vis, out_dir=str(out), num_workers=1):
        # written (whole) before it is yielded
        assert cv2.imread(entry['out_file']).shape == (480, 640, 3)
        seen.append(entry['img_id'])
    assert seen == names
    assert sorted(os.listdir(out)) == [n + '.png' for n in names]
    # the list API gives the same images (in-process reading)
    ref = fuser(irs, vis, num_workers=0)['predictions']
    for name, pred in zip(names, ref):
        written = cv2.imread(str(out / f'{name}.png'))[..., ::-1]
        np.testing.assert_array_equal(written, pred['fused'])


@pytest.mark.slow
def test_stream_keeps_at_most_a_few_batches_alive(demo, monkeypatch):
    """Memory is flat in the folder size: while the consumer is at the k-th
    result, only a bounded number of predictions are alive."""
    import gc
    import weakref
    config, ckpt, pairs = demo
    fuser = FusionInferencer(config, ckpt, device='cpu', show_progress=False)
    refs = []
    orig = FusionInferencer._write_batch

    def write(self, items, preds, **kwargs):
        refs.extend(weakref.ref(p) for p in preds)
        return orig(self, items, preds, **kwargs)

    monkeypatch.setattr(FusionInferencer, '_write_batch', write)
    stream = fuser.stream(
        osp.join(pairs, 'ir'),
        osp.join(pairs, 'vi'),
        return_images=False,
        num_workers=0,
        max_pending=2)
    for k, entry in enumerate(stream):
        gc.collect()
        live = sum(r() is not None for r in refs)
        assert live <= 3, (k, live)
    assert len(refs) == 12


@pytest.mark.slow
def test_fuse_tool_resumes_and_writes_whole_files(repo_root, demo, tmp_path):
    config, ckpt, pairs = demo
    out = tmp_path / 'fused'
    os.makedirs(out)
    # an interrupted earlier run: two results written, one partial file
    done = sorted(os.listdir(osp.join(pairs, 'ir')))[:2]
    for name in done:
        cv2.imwrite(str(out / name), np.zeros((4, 4, 3), np.uint8))
    open(out / f'.{done[0][:-4]}.123.part.png', 'wb').close()
    cmd = [
        sys.executable,
        osp.join(repo_root, 'tools', 'fuse.py'), config, ckpt, '--ir',
        osp.join(pairs, 'ir'), '--vi',
        osp.join(pairs, 'vi'), '--out',
        str(out), '--no-progress', '--backend', 'pytorch'
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=repo_root)
    assert res.returncode == 0, res.stderr[-2000:]
    assert 'fused 10 pair(s)' in res.stdout and '2 already there' in \
        res.stdout, res.stdout
    for name in done:  # kept, not redone
        assert cv2.imread(str(out / name)).shape == (4, 4, 3)
    assert sorted(f for f in os.listdir(out) if not f.startswith('.')) == \
        sorted(os.listdir(osp.join(pairs, 'ir')))
    res = subprocess.run(
        cmd + ['--overwrite'], capture_output=True, text=True, cwd=repo_root)
    assert res.returncode == 0 and 'fused 12 pair(s)' in res.stdout
    assert cv2.imread(str(out / done[0])).shape == (480, 640, 3)


@pytest.mark.slow
def test_fuse_tool_memory_is_flat_in_the_folder_size(repo_root, demo,
                                                     tmp_path):
    """Peak RSS of fuse.py over 2 vs 12 pairs (640x480): the old tool kept
    every prediction (about 9 MB per pair here) until the end."""
    config, ckpt, pairs = demo
    few = tmp_path / 'few'
    for modality in ('ir', 'vi'):
        os.makedirs(few / modality)
        for name in sorted(os.listdir(osp.join(pairs, modality)))[:2]:
            shutil.copy(osp.join(pairs, modality, name), few / modality)
    script = textwrap.dedent(f'''
        import resource, sys
        sys.argv = ['fuse.py'] + sys.argv[1:]
        sys.path.insert(0, {osp.join(repo_root, 'tools')!r})
        import fuse
        assert fuse.main(sys.argv[1:]) == 0
        print('RSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        ''')
    rss = {}
    for name, folder in (('few', str(few)), ('all', pairs)):
        res = subprocess.run([
            sys.executable, '-c', script, config, ckpt, '--ir',
            osp.join(folder, 'ir'), '--vi',
            osp.join(folder, 'vi'), '--out',
            str(tmp_path / name), '--no-progress', '--backend', 'pytorch',
            '--workers', '0'
        ],
                             capture_output=True,
                             text=True,
                             cwd=repo_root)
        assert res.returncode == 0, res.stderr[-2000:]
        rss[name] = int(res.stdout.split('RSS')[-1]) / 1024  # MiB
    # 10 more pairs kept would add ~90 MiB; allow allocator noise only
    assert rss['all'] - rss['few'] < 40, rss


@needs_ort
@pytest.mark.parametrize('net_type', ['SeAFusionNet', 'DRDBFusionNet'])
def test_onnxruntime_backend_equals_pytorch(net_type, tmp_path):
    from mmfusion.utils import register_all_modules
    register_all_modules()
    torch.manual_seed(0)
    net = MODELS.build(dict(type=net_type)).eval()
    ort_net = build_inference_net(
        net, backend='onnxruntime', workdir=str(tmp_path))
    assert isinstance(ort_net, ORTFusionNet)
    # dynamic batch and size: another shape than the export's
    g = torch.Generator().manual_seed(1)
    ir, vis_y = (torch.rand(2, 1, 72, 100, generator=g) for _ in range(2))
    with torch.no_grad():
        ref = net(ir, vis_y)
    assert (ort_net(ir, vis_y) - ref).abs().max().item() < 1e-5
    # the export is cached per weights: a second build reuses it
    files = os.listdir(tmp_path)
    build_inference_net(net, backend='onnxruntime', workdir=str(tmp_path))
    assert os.listdir(tmp_path) == files
    with torch.no_grad():
        next(net.parameters()).add_(0.1)
    build_inference_net(net, backend='onnxruntime', workdir=str(tmp_path))
    assert len(os.listdir(tmp_path)) == len(files) + 1


@needs_ort
@pytest.mark.slow
def test_refusion_exports_through_onnxscript(tmp_path):
    """ReFusionNet (TDFusion's net; narrow here) is exported by the
    torch.export based exporter (onnxscript, pinned in
    requirements/inference.txt): ~20 s of CPU."""
    from mmfusion.utils import register_all_modules
    register_all_modules()
    torch.manual_seed(0)
    net = MODELS.build(
        dict(type='ReFusionNet', dim=8, num_blocks=1, num_heads=2)).eval()
    ort_net = build_inference_net(
        net, backend='onnxruntime', workdir=str(tmp_path))
    assert isinstance(ort_net, ORTFusionNet)
    g = torch.Generator().manual_seed(1)
    ir, vis_y = (torch.rand(1, 1, 40, 56, generator=g) for _ in range(2))
    with torch.no_grad():
        assert (ort_net(ir, vis_y) - net(ir, vis_y)).abs().max() < 1e-5


@needs_ort
def test_auto_backend_keeps_a_gpu_net_in_pytorch(monkeypatch, tmp_path):
    """'auto' picks ONNX Runtime only where it runs on the net's device: a
    CPU-only onnxruntime beside a GPU would fuse every pair on the CPU."""
    from mmfusion.apis import inference_backends as ib
    from mmfusion.utils import register_all_modules
    register_all_modules()
    net = MODELS.build(dict(type='SeAFusionNet')).eval()
    monkeypatch.setattr(ib, '_ort_providers', lambda: ['CPUExecutionProvider'])
    picked = build_inference_net(
        net, backend='auto', device='cuda:0', workdir=str(tmp_path))
    assert isinstance(picked, AutocastFusionNet)
    assert os.listdir(tmp_path) == []  # nothing exported
    picked = build_inference_net(
        net, backend='auto', device='cpu', workdir=str(tmp_path))
    assert isinstance(picked, ORTFusionNet)


@needs_ort
@pytest.mark.slow
def test_pytorch2onnx_tool(repo_root, tmp_path):
    out = tmp_path / 'net.onnx'
    res = subprocess.run([
        sys.executable,
        osp.join(repo_root, 'tools', 'deployment', 'pytorch2onnx.py'),
        osp.join(repo_root, DEMO), '--out',
        str(out), '--shape', '96', '128'
    ],
                         capture_output=True,
                         text=True,
                         cwd=repo_root)
    assert res.returncode == 0, res.stderr[-2000:]
    assert out.is_file() and '(ok' in res.stdout, res.stdout


def test_bf16_autocast_within_a_grey_level(demo):
    config, ckpt, pairs = demo
    ir = osp.join(pairs, 'ir', '00357D.png')
    vi = osp.join(pairs, 'vi', '00357D.png')
    fp32 = FusionInferencer(config, ckpt, device='cpu', show_progress=False)
    bf16 = FusionInferencer(
        config, ckpt, device='cpu', show_progress=False, precision='bf16')
    assert isinstance(bf16.model.fusion_net, AutocastFusionNet)
    a = fp32(ir, vi)['predictions'][0]
    b = bf16(ir, vi)['predictions'][0]
    assert b['fused_y'].dtype == np.float32
    diff = np.abs(a['fused'].astype(int) - b['fused'].astype(int))
    assert diff.max() <= 2 and diff.mean() < 0.25, (diff.max(), diff.mean())
    assert np.abs(a['fused_y'] - b['fused_y']).max() > 0  # it did run bf16


def test_bad_backend_options_are_named(demo):
    config, ckpt, _ = demo
    with pytest.raises(ValueError, match='backend must be one of'):
        FusionInferencer(config, ckpt, device='cpu', backend='tensorrt')
    with pytest.raises(ValueError, match='runs fp32'):
        FusionInferencer(
            config,
            ckpt,
            device='cpu',
            backend='onnxruntime',
            precision='bf16')


def test_stream_on_error_skip_in_batches(demo, tmp_path):
    """on_error='skip': a pair that cannot be read (a truncated VIS PNG)
    yields its error in input order, its batch partner and every other
    pair are fused; 'raise' (the default) names the file, without the
    dataset option's advice (no dataset here)."""
    config, ckpt, pairs = demo
    names = sorted(n[:-4] for n in os.listdir(osp.join(pairs, 'ir')))[:5]
    irs = [osp.join(pairs, 'ir', n + '.png') for n in names]
    vis = [str(tmp_path / f'{n}.png') for n in names]
    for n, dst in zip(names, vis):
        shutil.copy(osp.join(pairs, 'vi', n + '.png'), dst)
    with open(vis[2], 'rb') as f:
        data = f.read()
    with open(vis[2], 'wb') as f:
        f.write(data[:len(data) // 3])
    fuser = FusionInferencer(config, ckpt, device='cpu', show_progress=False)
    out = tmp_path / 'out'
    entries = list(
        fuser.stream(
            irs,
            vis,
            batch_size=2,
            out_dir=str(out),
            num_workers=1,
            on_error='skip'))
    assert [e['img_id'] for e in entries] == names
    assert entries[2]['error'].startswith(f'cannot read VIS image {vis[2]}: '
                                          'truncated PNG')
    assert 'check_images' not in entries[2]['error']
    assert all('error' not in e and osp.isfile(e['out_file'])
               for k, e in enumerate(entries) if k != 2)
    assert len(os.listdir(out)) == 4
    with pytest.raises(ValueError) as err:
        list(fuser.stream(irs, vis, num_workers=0))
    assert str(err.value).startswith(f'cannot read VIS image {vis[2]}: ')
    assert 'check_images' not in str(err.value)
    with pytest.raises(ValueError, match='on_error'):
        next(fuser.stream(irs, vis, on_error='ignore'))
