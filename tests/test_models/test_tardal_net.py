"""TarDALGenerator: the published architecture and its inference options."""
import pytest
import torch

from mmfusion.models import TarDALGenerator
from mmfusion.registry import MODELS


def test_parameter_and_buffer_count_match_the_published_net():
    net = TarDALGenerator()
    assert sum(p.numel() for p in net.parameters()) == 296577
    # 448 running statistics + 6 num_batches_tracked, as the released files
    assert sum(b.numel() for b in net.buffers()) == 454


@pytest.mark.parametrize('hw', [(17, 23), (5, 40)])
def test_any_size_tanh_output(hw):
    torch.manual_seed(0)
    net = TarDALGenerator()
    out = net(torch.rand(2, 1, *hw), torch.rand(2, 1, *hw))
    assert out.shape == (2, 1, *hw)
    assert out.min() >= -1 and out.max() <= 1
    assert out.min() < 0  # the raw tanh, not mapped to [0, 1]
    affine = TarDALGenerator(output='affine')
    affine.load_state_dict(net.state_dict())
    torch.testing.assert_close(
        affine(torch.ones(1, 1, 4, 4), torch.zeros(1, 1, 4, 4)),
        (net(torch.ones(1, 1, 4, 4), torch.zeros(1, 1, 4, 4)) + 1) / 2)


def test_image_bn_mode_uses_each_images_statistics():
    torch.manual_seed(0)
    net = TarDALGenerator(bn_mode='image').eval()
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.fill_(5.)
            m.running_var.fill_(1e4)
    ir, vis = torch.rand(3, 1, 9, 11), torch.rand(3, 1, 9, 11)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with torch.no_grad():
        batch = net(ir, vis)
        single = torch.cat([net(ir[i:i + 1], vis[i:i + 1]) for i in range(3)])
    # per image: the result does not depend on the batch it is in
    torch.testing.assert_close(batch, single)
    # the running statistics are neither used nor changed
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k]), k
    # = PyTorch BatchNorm in training mode on one image
    ref = TarDALGenerator()
    ref.load_state_dict(net.state_dict())
    ref.train()
    with torch.no_grad():
        torch.testing.assert_close(single[:1], ref(ir[:1], vis[:1]))
        running = TarDALGenerator().eval()
        running.load_state_dict(before)
        assert (running(ir, vis) - batch).abs().max() > 1e-2


def test_training_uses_and_updates_batch_statistics_in_both_modes():
    torch.manual_seed(0)
    for mode in ('running', 'image'):
        net = TarDALGenerator(bn_mode=mode).train()
        net(torch.rand(2, 1, 8, 8), torch.rand(2, 1, 8, 8)).mean().backward()
        assert int(net.stem.bn.num_batches_tracked) == 1
        assert net.head.weight.grad.abs().sum() > 0


def test_input_range_maps_the_inputs():
    torch.manual_seed(0)
    net = TarDALGenerator(input_range=(-1, 1)).eval()
    ref = TarDALGenerator().eval()
    ref.load_state_dict(net.state_dict())
    ir, vis = torch.rand(1, 1, 6, 6), torch.rand(1, 1, 6, 6)
    torch.testing.assert_close(net(ir, vis), ref(2 * ir - 1, 2 * vis - 1))


def test_bad_arguments_and_inputs_are_refused():
    with pytest.raises(ValueError, match='bn_mode'):
        TarDALGenerator(bn_mode='train')
    with pytest.raises(ValueError, match='output'):
        TarDALGenerator(output='sigmoid')
    with pytest.raises(ValueError, match='input_range'):
        TarDALGenerator(input_range=(1, 0))
    with pytest.raises(ValueError, match='TarDALGenerator'):
        TarDALGenerator()(torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 4))


def test_built_from_registry_by_name():
    net = MODELS.build(dict(type='TarDALGenerator', bn_mode='image'))
    assert isinstance(net, TarDALGenerator) and net.bn_mode == 'image'


@pytest.mark.parametrize('mode', ['running', 'image'])
def test_exported_graph_keeps_the_bn_mode(mode, tmp_path):
    """ONNX export (and torch.compile) run ``_forward`` alone: the BN mode
    is decided there, and the ONNX cache tells the modes apart (same
    weights, different graphs)."""
    pytest.importorskip('onnxruntime')
    from mmfusion.apis.inference_backends import (_fingerprint,
                                                  build_inference_net)
    torch.manual_seed(0)
    net = TarDALGenerator(dim=8, depth=2, bn_mode=mode).eval()
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.fill_(0.5)
            m.running_var.fill_(4.)
    other = TarDALGenerator(
        dim=8, depth=2, bn_mode='running' if mode == 'image' else 'image')
    other.load_state_dict(net.state_dict())
    assert _fingerprint(net) != _fingerprint(other.eval())
    # build_inference_net compares ONNX Runtime with PyTorch (raises above
    # atol); compare again here on another pair
    ort = build_inference_net(
        net, backend='onnxruntime', workdir=str(tmp_path), atol=1e-4)
    ir, vis = torch.rand(2, 1, 24, 20), torch.rand(2, 1, 24, 20)
    with torch.no_grad():
        torch.testing.assert_close(
            ort(ir, vis), net(ir, vis), atol=1e-4, rtol=0)
        torch.testing.assert_close(
            type(net)._forward(net, ir, vis), net(ir, vis), atol=0, rtol=0)
