# Copyright (c) mmfusion contributors. All rights reserved.
"""ReFusion's channels-last fast path (the default) computes what the plain
layer-by-layer formulation (``fast=False``, the released maths) computes:
forward, gradients, second-order gradients and forward-mode derivatives,
within float rounding, with the same state-dict keys."""
import pytest
import torch
from torch.func import functional_call, jvp

from mmfusion.models import ReFusionNet, TDFusionLossGenerator
from mmfusion.models.utils import RestormerBlock
from mmfusion.models.utils.restormer import attention_matrix


def _pair(net_cls, seed=0, **kwargs):
    """The same random weights (not the identity init: LayerNorm biases and
    temperatures away from 0/1) in a fast and a plain net."""
    torch.manual_seed(seed)
    fast = net_cls(**kwargs)
    with torch.no_grad():
        for p in fast.parameters():
            p.add_(0.1 * torch.randn_like(p))
    plain = net_cls(fast=False, **kwargs)
    plain.load_state_dict(fast.state_dict())
    return fast, plain


def _inputs(n=2, h=13, w=11, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(
        n, 1, h, w, generator=g), torch.rand(
            n, 1, h, w, generator=g)


@pytest.mark.parametrize('net_cls', [ReFusionNet, TDFusionLossGenerator])
def test_same_state_dict_keys_and_default_is_fast(net_cls):
    fast, plain = net_cls(), net_cls(fast=False)
    assert fast.fast and not plain.fast
    assert list(fast.state_dict()) == list(plain.state_dict())
    assert [v.shape for v in fast.state_dict().values()] == \
        [v.shape for v in plain.state_dict().values()]


@pytest.mark.parametrize('net_cls', [ReFusionNet, TDFusionLossGenerator])
def test_forward_and_gradients_equal_the_plain_path(net_cls):
    fast, plain = _pair(net_cls)
    a, b = _inputs()
    out_f, out_p = fast(a, b), plain(a, b)
    assert out_f.is_contiguous()
    torch.testing.assert_close(out_f, out_p, rtol=0, atol=1e-5)
    # a loss that weights every output pixel differently
    target = torch.rand_like(out_f)
    (out_f * target).sum().backward()
    (out_p * target).sum().backward()
    for (name, pf), pp in zip(fast.named_parameters(), plain.parameters()):
        torch.testing.assert_close(
            pf.grad, pp.grad, rtol=1e-4, atol=1e-5, msg=name)


def test_input_gradients_and_channels_last_inputs():
    fast, plain = _pair(ReFusionNet)
    a, b = _inputs(n=1, h=9, w=16)
    grads = []
    for net, fmt in ((fast, torch.channels_last), (plain,
                                                   torch.contiguous_format)):
        x = a.clone().contiguous(memory_format=fmt).requires_grad_()
        net(x, b).sum().backward()
        grads.append(x.grad)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-4, atol=1e-5)


def test_second_order_and_forward_mode_equal_the_plain_path():
    """TDFusion's meta step: the gradient of an inner gradient (double
    backward through functional_call) and torch.func.jvp through the net."""
    fast, plain = _pair(ReFusionNet, dim=8, num_heads=4)
    a, b = _inputs(n=2, h=7, w=9)
    direction = {n: torch.randn_like(p) for n, p in fast.named_parameters()}

    def hvp_like(net):
        params = dict(net.named_parameters())
        out = functional_call(net, params, (a, b))
        grads = torch.autograd.grad(
            (out**2).mean(), list(params.values()), create_graph=True)
        inner = sum((g * direction[n]).sum() for n, g in zip(params, grads))
        return torch.autograd.grad(inner, list(params.values()))

    def forward_mode(net):
        params = {n: p.detach() for n, p in net.named_parameters()}
        return jvp(lambda p: functional_call(net, p, (a, b)), (params, ),
                   (direction, ))[1]

    for gf, gp in zip(hvp_like(fast), hvp_like(plain)):
        torch.testing.assert_close(gf, gp, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(
        forward_mode(fast), forward_mode(plain), rtol=1e-4, atol=1e-5)


def test_block_fast_path_equals_plain_block():
    torch.manual_seed(0)
    fast = RestormerBlock(16, 8)
    with torch.no_grad():
        for p in fast.parameters():
            p.add_(0.1 * torch.randn_like(p))
    plain = RestormerBlock(16, 8, fast=False)
    plain.load_state_dict(fast.state_dict())
    x = torch.randn(2, 16, 6, 10)
    y = fast(x)
    assert y.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(y, plain(x), rtol=0, atol=1e-5)


def test_attention_matrix_is_block_diagonal_softmax():
    torch.manual_seed(0)
    n, p, heads, d = 2, 50, 4, 3
    q, k = torch.randn(n, p, heads * d), torch.randn(n, p, heads * d)
    temp = torch.rand(heads, 1, 1) + 0.5
    m = attention_matrix(q, k, heads, temp)
    assert m.shape == (n, heads * d, heads * d)
    for h in range(heads):
        s = slice(h * d, (h + 1) * d)
        qh = torch.nn.functional.normalize(q[..., s], dim=1)
        kh = torch.nn.functional.normalize(k[..., s], dim=1)
        ref = torch.softmax(qh.transpose(1, 2) @ kh * temp[h], dim=-1)
        torch.testing.assert_close(m[:, s, s], ref)
        off = m[:, s].clone()
        off[..., s] = 0
        assert off.abs().max() == 0
    # a zero channel: finite gradients (the norm is clamped as in
    # F.normalize)
    q = q.clone().requires_grad_()
    q.data[..., 0] = 0
    attention_matrix(q, k, heads, temp).sum().backward()
    assert torch.isfinite(q.grad).all()


def test_fast_path_is_what_a_converted_checkpoint_runs(tmp_path):
    """State dicts saved from either path load into the other."""
    fast, plain = _pair(ReFusionNet)
    path = tmp_path / 'w.pth'
    torch.save(plain.state_dict(), path)
    net = ReFusionNet()
    net.load_state_dict(torch.load(path))
    a, b = _inputs(n=1)
    torch.testing.assert_close(net(a, b), fast(a, b))


@pytest.mark.parametrize('tile_pixels', [11, 33, 8192])
def test_tiled_inference_equals_the_untiled_paths(tile_pixels):
    """No-grad forwards run in bands of image rows (1, 3 or all 13 rows of
    an 11-pixel-wide input: interior and border bands, a batch of 2)."""
    fast, plain = _pair(ReFusionNet, tile_pixels=tile_pixels)
    a, b = _inputs()
    assert fast._tile_rows(a) == 0  # grad mode, parameters need grads
    with torch.no_grad():
        assert fast._tile_rows(a) == max(1, tile_pixels // 11)
        out = fast(a, b)
        fast.tile_pixels = 0
        untiled = fast(a, b)
        ref = plain(a, b)
    assert out.shape == ref.shape and out.is_contiguous()
    torch.testing.assert_close(out, untiled, rtol=0, atol=1e-6)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-5)
    # frozen weights and plain inputs: tiled in grad mode too
    fast.tile_pixels = tile_pixels
    fast.requires_grad_(False)
    assert fast._tile_rows(a) > 0
    torch.testing.assert_close(fast(a, b), out, rtol=0, atol=0)


def test_tiled_inference_stays_off_under_transforms():
    """Forward-mode AD, torch.func transforms and autograd keep the untiled
    fast path (the tiled one writes into buffers in place)."""
    net = ReFusionNet(dim=8, num_heads=4).requires_grad_(False)
    a, b = _inputs(n=1, h=5, w=6)
    seen = []

    def f(x):
        seen.append(net._tile_rows(x))
        return net(x, b)

    with torch.no_grad():
        jvp(f, (a, ), (torch.ones_like(a), ))
    assert seen == [0]
    with torch.autograd.forward_ad.dual_level():
        dual = torch.autograd.forward_ad.make_dual(a, torch.ones_like(a))
        assert net._tile_rows(dual) == 0
    assert net._tile_rows(a.requires_grad_()) == 0
    assert ReFusionNet(fast=False)._tile_rows(a.detach()) == 0


def test_tiled_inference_stays_off_under_autocast():
    """bfloat16 autocast (CPU AMP) runs the untiled path: the bands write
    into float buffers. The output is the untiled path's under autocast."""
    net = ReFusionNet(dim=8, num_heads=4).requires_grad_(False)
    a, b = _inputs(n=1, h=5, w=6)
    assert net._tile_rows(a) > 0
    with torch.autocast('cpu', dtype=torch.bfloat16):
        assert net._tile_rows(a) == 0
        out = net(a, b)
    net.tile_pixels = 0
    with torch.autocast('cpu', dtype=torch.bfloat16):
        ref = net(a, b)
    torch.testing.assert_close(out, ref, rtol=0, atol=0)
    assert out.isfinite().all()


def test_batch_chunks_compute_what_the_whole_batch_computes(monkeypatch):
    """On CPU the fast path runs the batch in chunks of images whose widest
    map stays below ``batch_chunk_bytes``: the same outputs, gradients,
    second-order gradients and forward-mode derivatives as the whole
    batch; never under tracing/compile/export or for ``fast=False``."""
    fast, _ = _pair(ReFusionNet, dim=8, num_heads=4)
    a, b = _inputs(n=5, h=7, w=9)
    per_image = 7 * 9 * 48 * 4  # widest map: the decoder's qkv, 6 dim
    chunked = ReFusionNet(
        dim=8, num_heads=4, batch_chunk_bytes=2 * per_image + 1)
    whole = ReFusionNet(dim=8, num_heads=4, batch_chunk_bytes=0)
    for net in (chunked, whole):
        net.load_state_dict(fast.state_dict())
    assert chunked._chunk_images(a) == 2 and whole._chunk_images(a) == 5
    # the default: one 256 x 256 training crop per chunk (24 MiB qkv map),
    # small images in one chunk
    assert ReFusionNet()._chunk_images(torch.empty(2, 1, 256, 256)) == 1
    assert ReFusionNet()._chunk_images(torch.empty(16, 1, 64, 64)) == 16
    assert ReFusionNet(fast=False)._chunk_images(a) == 5

    sizes = []
    untiled = ReFusionNet._forward_untiled

    def spy(self, x, y):
        sizes.append((self is chunked, x.shape[0]))
        return untiled(self, x, y)

    monkeypatch.setattr(ReFusionNet, '_forward_untiled', spy)
    direction = {n: torch.randn_like(p) for n, p in fast.named_parameters()}

    def everything(net):
        params = dict(net.named_parameters())
        out = functional_call(net, params, (a, b))
        grads = torch.autograd.grad(
            (out**2 * a).mean(), list(params.values()), create_graph=True)
        inner = sum((g * direction[n]).sum() for n, g in zip(params, grads))
        second = torch.autograd.grad(inner, list(params.values()))
        tangent = jvp(lambda p: functional_call(net, p, (a, b)), ({
            n: p.detach()
            for n, p in params.items()
        }, ), (direction, ))[1]
        return [out, *grads, *second, tangent]

    got, ref = everything(chunked), everything(whole)
    assert [s for c, s in sizes if c] == [2, 2, 1] * 2  # grad pass + jvp
    assert [s for c, s in sizes if not c] == [5, 5]
    for g, r in zip(got, ref):
        torch.testing.assert_close(g, r, rtol=1e-5, atol=1e-6)
    monkeypatch.setattr(torch.compiler, 'is_compiling', lambda: True)
    assert chunked._chunk_images(a) == 5


def test_loss_generator_batch_chunks_compute_the_whole_batch(monkeypatch):
    """The loss generator's fast path in chunks of one image: the same
    weights and gradients as the whole batch."""
    from mmfusion.models.utils.restormer import images_per_chunk
    sizes = []
    inner = TDFusionLossGenerator._forward

    def spy(self, x, y):
        sizes.append(x.shape[0])
        return inner(self, x, y)

    monkeypatch.setattr(TDFusionLossGenerator, '_forward', spy)
    torch.manual_seed(0)
    whole = TDFusionLossGenerator(dim=8, num_heads=4, batch_chunk_bytes=0)
    chunked = TDFusionLossGenerator(dim=8, num_heads=4, batch_chunk_bytes=1)
    chunked.load_state_dict(whole.state_dict())
    a, b = _inputs(n=3, h=6, w=5)
    assert images_per_chunk(a, chunked._widest, 1) == 1
    assert images_per_chunk(a, whole._widest, 0) == 3
    outs = []
    for net in (whole, chunked):
        out = net(a, b)
        (out[:, :1] * a).sum().backward()
        outs.append(out)
    assert sizes == [3, 1, 1, 1]  # whole, then chunked
    torch.testing.assert_close(outs[1], outs[0], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match='batch_chunk_bytes must be >= 0'):
        TDFusionLossGenerator(batch_chunk_bytes=-1)
    with pytest.raises(ValueError, match='batch_chunk_bytes must be >= 0'):
        ReFusionNet(batch_chunk_bytes=-1)
    for (name, pw), pc in zip(whole.named_parameters(), chunked.parameters()):
        torch.testing.assert_close(
            pc.grad, pw.grad, rtol=1e-5, atol=1e-6, msg=name)
