"""The algorithms share FusionModel's constructor: their own arguments only,
the rest passed on; the task-driven ones refuse to be built without a task."""
import pytest
from mmengine.registry import init_default_scope

from mmfusion.registry import MODELS

OWN = dict(
    TDFusion=dict(loss_generator=dict(type='TDFusionLossGenerator')),
    BDLFusion=dict(discriminator=dict(type='PixelDiscriminator')),
    SeAFusion=dict())


@pytest.mark.parametrize('name', sorted(OWN))
def test_task_driven_algorithms_need_a_task(name):
    init_default_scope('mmfusion')
    cfg = dict(
        type=name,
        fusion_net=dict(type='ReFusionNet'),
        fusion_loss=dict(type='MaxIntensityTextureLoss'),
        **OWN[name])
    with pytest.raises(TypeError, match=f'{name} needs a task'):
        MODELS.build(cfg)


def test_fusion_model_needs_none():
    init_default_scope('mmfusion')
    model = MODELS.build(
        dict(
            type='FusionModel',
            fusion_net=dict(type='SeAFusionNet'),
            fusion_loss=dict(type='MaxIntensityTextureLoss'),
            seed=3,
            predict_task=False))
    assert model.task is None and model.seed == 3
    assert model.predict_task is False
