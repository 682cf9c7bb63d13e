"""TDFusion and BDLFusion converters.

Their weights are not available here, so random state_dicts are built in the
published key layouts (TDFusion ``nets/ReFusion.py``: every Meta conv stores
its weight twice, as ``<name>.conv.weight`` and ``<name>.weight``;
BDLFusion ``Network_IJCAI``: ``enhance_net.*``, ``discriminator.net.*``,
``denoise_net.*``). Each converted net must compute what a forward written
directly against the published names computes, which checks every mapping,
not just the shapes.
"""
import os.path as osp
import runpy
import subprocess
import sys
from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F

from mmfusion.models import (DRDBFusionNet, PixelDiscriminator, ReFusionNet,
                             TDFusionLossGenerator)
from mmfusion.models.utils.ckpt_convert import (bdlfusion_convert,
                                                bdlfusion_dropped_keys,
                                                tdfusion_convert)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOLS = osp.join(REPO, 'tools', 'model_converters')


# ----------------------------------------------------------------------
# published layouts, random values
# ----------------------------------------------------------------------
class Layout(OrderedDict):

    def __init__(self, seed=0):
        super().__init__()
        self.g = torch.Generator().manual_seed(seed)

    def add(self, name, *shape, scale=None):
        if scale is None:  # keep activations (and outputs) in range
            fan_in = 1
            for d in shape[1:]:
                fan_in *= d
            scale = fan_in**-0.5
        self[name] = torch.randn(*shape, generator=self.g) * scale
        return self

    def meta_conv(self, name, *shape):
        """A TDFusion MetaConv2d: the same tensor under two keys."""
        self.add(f'{name}.conv.weight', *shape)
        self[f'{name}.weight'] = self[f'{name}.conv.weight']
        return self

    def block(self, p, dim, heads=8, hidden=None):
        hidden = hidden or 2 * dim
        for i in (1, 2):
            self[f'{p}.norm{i}.body.weight'] = 1 + 0.1 * torch.randn(
                dim, generator=self.g)
            self.add(f'{p}.norm{i}.body.bias', dim, scale=0.1)
        self[f'{p}.attn.temperature'] = 1 + 0.2 * torch.rand(
            heads, 1, 1, generator=self.g)
        self.meta_conv(f'{p}.attn.qkv', 3 * dim, dim, 1, 1)
        self.meta_conv(f'{p}.attn.qkv_dwconv', 3 * dim, 1, 3, 3)
        self.meta_conv(f'{p}.attn.project_out', dim, dim, 1, 1)
        self.meta_conv(f'{p}.ffn.project_in', 2 * hidden, dim, 1, 1)
        self.meta_conv(f'{p}.ffn.dwconv', 2 * hidden, 1, 3, 3)
        self.meta_conv(f'{p}.ffn.project_out', dim, hidden, 1, 1)
        return self


def refusion_layout(dim=16, seed=0):
    sd = Layout(seed)
    sd.meta_conv('project_in_1', dim, 1, 3, 3)
    sd.meta_conv('project_in_2', dim, 1, 3, 3)
    for enc in ('encoder1', 'encoder2'):
        for i in range(2):
            sd.block(f'{enc}.{i}', dim)
    for i in (1, 2):
        sd[f'FM.temperature{i}'] = 1 + 0.2 * torch.rand(
            8, 1, 1, generator=sd.g)
        sd.meta_conv(f'FM.qkv{i}', 3 * dim, dim, 1, 1)
        sd.meta_conv(f'FM.qkv{i}_dwconv', 3 * dim, 1, 3, 3)
        sd.meta_conv(f'FM.project_mid{i}', dim, dim, 1, 1)
    sd.meta_conv('FM.project_E', 8 * dim, 2 * dim, 1, 1)
    sd.meta_conv('FM.project_E_d', 8 * dim, 1, 3, 3)
    for i in (1, 2):
        sd.meta_conv(f'FM.project_E{i}', 4 * dim, dim, 1, 1)
        sd.meta_conv(f'FM.project_E{i}_d', 4 * dim, 1, 3, 3)
        sd.meta_conv(f'FM.project_out{i}', 2 * dim, 4 * dim, 1, 1)
    for i in range(2):
        sd.block(f'decoder.{i}', 2 * dim)
    sd.meta_conv('project_out_0', dim, 2 * dim, 3, 3)
    sd.meta_conv('project_out_1', 1, dim, 3, 3)
    return sd


def lpn_layout(dim=16, seed=1):
    sd = Layout(seed)
    sd.meta_conv('patch_embed1', dim, 1, 3, 3)
    sd.meta_conv('patch_embed2', dim, 1, 3, 3)
    for enc, d in (('encoder1', dim), ('encoder2', dim), ('encoder3',
                                                          2 * dim)):
        for i in range(2):
            sd.block(f'{enc}.{i}', d)
    sd.meta_conv('out1', dim, 2 * dim, 3, 3)
    sd['out2.weight'] = torch.tensor([0.1])
    sd.meta_conv('out3', 2, dim, 3, 3)
    return sd


# ----------------------------------------------------------------------
# forwards written against the published names
# ----------------------------------------------------------------------
def conv(sd, name, x, padding=0, groups=1, dilation=1):
    bias = sd.get(f'{name}.bias')
    return F.conv2d(
        x,
        sd[f'{name}.weight'],
        bias,
        padding=padding,
        groups=groups,
        dilation=dilation)


def dw(sd, name, x):
    return conv(sd, name, x, padding=1, groups=x.shape[1])


def layer_norm(sd, name, x):
    mu = x.mean(1, keepdim=True)
    var = x.var(1, keepdim=True, unbiased=False)
    w = sd[f'{name}.body.weight'].view(1, -1, 1, 1)
    b = sd[f'{name}.body.bias'].view(1, -1, 1, 1)
    return (x - mu) / torch.sqrt(var + 1e-5) * w + b


def attention(q, k, v, temperature, heads=8):
    n, c, h, w = q.shape
    q, k, v = (t.reshape(n, heads, c // heads, h * w) for t in (q, k, v))
    q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
    attn = (q @ k.transpose(-2, -1) * temperature).softmax(-1)
    return (attn @ v).reshape(n, c, h, w)


def block(sd, p, x):
    y = layer_norm(sd, f'{p}.norm1', x)
    q, k, v = dw(sd, f'{p}.attn.qkv_dwconv', conv(sd, f'{p}.attn.qkv',
                                                  y)).chunk(3, 1)
    x = x + conv(sd, f'{p}.attn.project_out',
                 attention(q, k, v, sd[f'{p}.attn.temperature']))
    y = layer_norm(sd, f'{p}.norm2', x)
    y1, y2 = dw(sd, f'{p}.ffn.dwconv', conv(sd, f'{p}.ffn.project_in',
                                            y)).chunk(2, 1)
    return x + conv(sd, f'{p}.ffn.project_out', F.gelu(y1) * y2)


def published_refusion(sd, a, b):
    x1 = conv(sd, 'project_in_1', a, padding=1)
    x2 = conv(sd, 'project_in_2', b, padding=1)
    for i in range(2):
        x1, x2 = block(sd, f'encoder1.{i}', x1), block(sd, f'encoder2.{i}', x2)
    q1, k1, v1 = dw(sd, 'FM.qkv1_dwconv', conv(sd, 'FM.qkv1', x1)).chunk(3, 1)
    q2, k2, v2 = dw(sd, 'FM.qkv2_dwconv', conv(sd, 'FM.qkv2', x2)).chunk(3, 1)
    x1 = x1 + conv(sd, 'FM.project_mid1',
                   attention(q2, k1, v1, sd['FM.temperature1']))
    x2 = x2 + conv(sd, 'FM.project_mid2',
                   attention(q1, k2, v2, sd['FM.temperature2']))
    out = torch.cat([x1, x2], 1)
    g1, g2 = dw(sd, 'FM.project_E_d', conv(sd, 'FM.project_E',
                                           out)).chunk(2, 1)
    x1 = F.gelu(g1) * dw(sd, 'FM.project_E1_d', conv(sd, 'FM.project_E1', x1))
    x2 = F.gelu(g2) * dw(sd, 'FM.project_E2_d', conv(sd, 'FM.project_E2', x2))
    x = out + conv(sd, 'FM.project_out1', x1) + conv(sd, 'FM.project_out2', x2)
    for i in range(2):
        x = block(sd, f'decoder.{i}', x)
    x = F.leaky_relu(conv(sd, 'project_out_0', x, padding=1))
    return torch.sigmoid(conv(sd, 'project_out_1', x, padding=1))


def published_lpn(sd, a, b):
    x1 = conv(sd, 'patch_embed1', a, padding=1)
    x2 = conv(sd, 'patch_embed2', b, padding=1)
    for i in range(2):
        x1, x2 = block(sd, f'encoder1.{i}', x1), block(sd, f'encoder2.{i}', x2)
    x = torch.cat([x1, x2], 1)
    for i in range(2):
        x = block(sd, f'encoder3.{i}', x)
    x = F.prelu(conv(sd, 'out1', x, padding=1), sd['out2.weight'])
    return conv(sd, 'out3', x, padding=1).softmax(1)


def _double(sd):
    return {
        k: v.double() if v.is_floating_point() else v
        for k, v in sd.items()
    }


def _inputs(seed=3, hw=(11, 13)):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(
        2, 1, *hw, generator=g), torch.rand(
            2, 1, *hw, generator=g)


# ----------------------------------------------------------------------
# TDFusion
# ----------------------------------------------------------------------
def test_tdfusion_fusion_net_conversion_computes_published_forward():
    sd = refusion_layout()
    state = tdfusion_convert(sd)
    net = ReFusionNet()
    net.load_state_dict(state, strict=True)
    # float64: the comparison is about the mapping, not rounding
    sd, net = _double(sd), net.double()
    a, b = (t.double() for t in _inputs())
    with torch.no_grad():
        torch.testing.assert_close(net(a, b), published_refusion(sd, a, b))


def test_tdfusion_loss_generator_conversion_computes_published_forward():
    sd = lpn_layout()
    state = tdfusion_convert(sd, net='loss_generator')
    gen = TDFusionLossGenerator()
    gen.load_state_dict(state, strict=True)
    sd, gen = _double(sd), gen.double()
    a, b = (t.double() for t in _inputs())
    with torch.no_grad():
        torch.testing.assert_close(gen(a, b), published_lpn(sd, a, b))


def test_tdfusion_accepts_single_copies_and_rejects_conflicts():
    sd = refusion_layout()
    # only the '.conv.weight' copies (e.g. a re-saved, de-duplicated file)
    single = OrderedDict(
        (k, v) for k, v in sd.items()
        if not (k.endswith('.weight') and '.conv.' not in k
                and k.replace('.weight', '.conv.weight') in sd))
    assert len(single) < len(sd)
    ReFusionNet().load_state_dict(tdfusion_convert(single), strict=True)
    bad = OrderedDict(sd)
    bad['FM.qkv1.weight'] = bad['FM.qkv1.weight'] + 1
    with pytest.raises(ValueError, match='FM.qkv1'):
        tdfusion_convert(bad)
    with pytest.raises(KeyError, match='patch_embed1'):
        tdfusion_convert(lpn_layout())  # an LPN given as the fusion net
    with pytest.raises(ValueError, match='loss_generator'):
        tdfusion_convert(sd, net='lpn')


@pytest.mark.slow
def test_tdfusion_cli(tmp_path, monkeypatch):
    src, dst = tmp_path / 'TDFusion_MSRS.pth', tmp_path / 'out' / 'td.pth'
    sd = refusion_layout()
    torch.save(dict(sd), src)
    proc = subprocess.run([
        sys.executable,
        osp.join(TOOLS, 'tdfusion2mmfusion.py'),
        str(src),
        str(dst)
    ],
                          capture_output=True,
                          text=True,
                          cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    ckpt = torch.load(dst, weights_only=True)
    assert ckpt['meta']['source'] == 'HaowenBai/TDFusion'
    assert all(k.startswith('fusion_net.') for k in ckpt['state_dict'])
    assert torch.equal(ckpt['state_dict']['fusion_net.fusion.gate.weight'],
                       sd['FM.project_E.weight'])
    # a file of the wrong network fails with the file named (in-process)
    torch.save(dict(lpn_layout()), src)
    monkeypatch.setattr(sys, 'argv',
                        ['tdfusion2mmfusion.py',
                         str(src), str(dst)])
    with pytest.raises(KeyError, match=r'TDFusion_MSRS\.pth.*unexpected'):
        runpy.run_path(
            osp.join(TOOLS, 'tdfusion2mmfusion.py'), run_name='__main__')


# ----------------------------------------------------------------------
# BDLFusion
# ----------------------------------------------------------------------
def bdl_layout(seed=4, with_detector=True):
    sd = Layout(seed)
    sd.add('enhance_net.conv1.weight', 64, 2, 3, 3, scale=0.2)
    sd.add('enhance_net.conv1.bias', 64, scale=0.05)
    for blk in (1, 2):
        for i in range(1, 6):
            cin = 64 + 32 * (i - 1)
            sd.add(
                f'enhance_net.DRDB{blk}.Dcov{i}.weight',
                32,
                cin,
                3,
                3,
                scale=0.03)
            sd.add(f'enhance_net.DRDB{blk}.Dcov{i}.bias', 32, scale=0.05)
        sd.add(f'enhance_net.DRDB{blk}.conv.weight', 64, 224, 1, 1, scale=0.05)
        sd.add(f'enhance_net.DRDB{blk}.conv.bias', 64, scale=0.05)
    sd.add('enhance_net.conv2.weight', 32, 64, 3, 3, scale=0.05)
    sd.add('enhance_net.conv2.bias', 32, scale=0.05)
    sd.add('enhance_net.conv21.weight', 1, 32, 3, 3, scale=0.05)
    sd['enhance_net.conv21.bias'] = torch.tensor([0.4])
    sd['enhance_net.relu.weight'] = torch.tensor([0.2])
    sd.add('discriminator.net.0.weight', 64, 1, 1, 1)
    sd.add('discriminator.net.0.bias', 64)
    sd.add('discriminator.net.2.weight', 128, 64, 1, 1)
    sd['discriminator.net.3.weight'] = 1 + torch.rand(128, generator=sd.g)
    sd.add('discriminator.net.3.bias', 128)
    sd.add('discriminator.net.3.running_mean', 128)
    sd['discriminator.net.3.running_var'] = 1 + torch.rand(128, generator=sd.g)
    sd['discriminator.net.3.num_batches_tracked'] = torch.tensor(7)
    sd.add('discriminator.net.5.weight', 1, 128, 1, 1)
    if with_detector:
        sd.add('denoise_net.fcos_body.backbone.conv1.weight', 64, 3, 7, 7)
        sd.add('denoise_net.fcos_body.head.cls_logits.bias', 80)
        sd['_criterion_gan.real_label'] = torch.tensor(1.)
        sd['_criterion_gan.fake_label'] = torch.tensor(0.)
    return sd


def published_bdl(sd, ir, vis):
    p = 'enhance_net.'
    a = sd[p + 'relu.weight']
    x = F.prelu(conv(sd, p + 'conv1', torch.cat([ir, vis], 1), padding=1), a)
    for blk in (1, 2):
        feats = x
        for i in range(1, 6):
            y = F.relu(
                conv(
                    sd, f'{p}DRDB{blk}.Dcov{i}', feats, padding=2, dilation=2))
            feats = torch.cat([feats, y], 1)
        x = x + F.relu(conv(sd, f'{p}DRDB{blk}.conv', feats))
    x = F.prelu(conv(sd, p + 'conv2', x, padding=1), a)
    return F.prelu(conv(sd, p + 'conv21', x, padding=1), a)


def published_disc(sd, x):
    p = 'discriminator.net.'
    x = F.leaky_relu(conv(sd, p + '0', x), 0.2)
    x = F.batch_norm(
        conv(sd, p + '2', x), sd[p + '3.running_mean'],
        sd[p + '3.running_var'], sd[p + '3.weight'], sd[p + '3.bias'], False)
    return conv(sd, p + '5', F.leaky_relu(x, 0.2))


def test_bdlfusion_conversion_computes_published_forward():
    sd = bdl_layout()
    out = bdlfusion_convert(sd)
    assert set(out) == {'fusion_net', 'discriminator'}
    net = DRDBFusionNet(clamp_output=False)
    net.load_state_dict(out['fusion_net'], strict=True)
    disc = PixelDiscriminator().eval()
    disc.load_state_dict(out['discriminator'], strict=True)
    ir, vis = _inputs()
    with torch.no_grad():
        torch.testing.assert_close(net(ir, vis), published_bdl(sd, ir, vis))
        torch.testing.assert_close(disc(ir), published_disc(sd, ir))
    assert sorted(bdlfusion_dropped_keys(sd)) == [
        '_criterion_gan.fake_label', '_criterion_gan.real_label',
        'denoise_net.fcos_body.backbone.conv1.weight',
        'denoise_net.fcos_body.head.cls_logits.bias'
    ]


@pytest.mark.slow
def test_bdlfusion_bare_fusion_net_and_cli(tmp_path):
    sd = bdl_layout(with_detector=False)
    bare = OrderedDict((k[len('enhance_net.'):], v) for k, v in sd.items()
                       if k.startswith('enhance_net.'))
    out = bdlfusion_convert(bare)
    assert set(out) == {'fusion_net'}
    DRDBFusionNet().load_state_dict(out['fusion_net'], strict=True)

    src, dst = tmp_path / 'model_meta1_400.pth', tmp_path / 'bdl.pth'
    torch.save({'state_dict': dict(bdl_layout())}, src)
    proc = subprocess.run([
        sys.executable,
        osp.join(TOOLS, 'bdlfusion2mmfusion.py'),
        str(src),
        str(dst)
    ],
                          capture_output=True,
                          text=True,
                          cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert 'not converted: 4 keys' in proc.stdout
    state = torch.load(dst, weights_only=True)['state_dict']
    assert 'fusion_net.drdb2.convs.4.weight' in state
    assert 'discriminator.bn.running_var' in state
    assert not any('denoise' in k for k in state)
