"""BDLFusion's task input as the released code feeds it (issue 22), and the
published configs selecting the released recipe."""
import pytest
import torch
from mmengine.config import Config

from mmfusion.models.task_adapters.task_adapter import TaskAdapter
from mmfusion.testing import tiny_segmentor
from mmfusion.utils import ycbcr_to_rgb


def test_rgb_minmax_task_input_is_the_released_one():
    """Fusion_Network output Y (not clamped) + VIS CrCb -> RGB, clamped to
    [0, 1], min-max over the whole batch (fcos_fusion.py forward_object)."""
    torch.manual_seed(0)
    adapter = TaskAdapter(
        model=tiny_segmentor(9, 3), input_format='rgb_minmax')
    y = torch.rand(2, 1, 6, 7) * 1.4 - 0.2  # out of range on both sides
    cbcr = torch.rand(2, 2, 6, 7) * 0.4 + 0.3
    y[0, 0, 0, 0], cbcr[0, :, 0, 0] = 1.2, torch.tensor([0.5, 0.2])
    imgs = adapter.to_task_inputs(y, cbcr)
    # by hand, in the released order
    cb, cr = cbcr[:, :1] - 0.5, cbcr[:, 1:] - 0.5
    rgb = torch.cat(
        [y + 1.403 * cr, y - 0.714 * cr - 0.344 * cb, y + 1.773 * cb],
        1).clamp(0, 1)
    rgb = (rgb - rgb.min()) / (rgb.max() - rgb.min())
    expected = list(rgb.flip(1) * 255.)  # BGR, 0-255 for the task pipeline
    for a, b in zip(imgs, expected):
        torch.testing.assert_close(a, b)
    # the raw Y matters: clamping it first gives another image
    clamped = ycbcr_to_rgb(y.clamp(0, 1), cbcr)
    clamped = (clamped - clamped.min()) / (clamped.max() - clamped.min())
    assert not torch.allclose(rgb, clamped)
    # and the image is differentiable in the fused Y
    y.requires_grad_(True)
    torch.stack(adapter.to_task_inputs(y, cbcr)).sum().backward()
    assert y.grad is not None and y.grad.abs().sum() > 0


@pytest.mark.parametrize('path', [
    'configs/bdlfusion/fcos_m3fd.py',
    'configs/bdlfusion/bdlfusion_drdb_deeplabv3plus_msrs.py',
    'configs/bdlfusion/bdlfusion_demo.py'
])
def test_published_configs_select_the_released_recipe(repo_root, path):
    cfg = Config.fromfile(f'{repo_root}/{path}')
    assert cfg.model.aggregation == 'mean'
    assert cfg.model.task.input_format == 'rgb_minmax'
    assert cfg.model.fusion_net.get('clamp_output') is False
    assert cfg.model.output_norm == 'minmax'
