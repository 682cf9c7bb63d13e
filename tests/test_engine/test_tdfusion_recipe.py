"""TDFusion's training recipe as the released code runs it (issue 22), on the
batches the published configs produce from real pairs: the true IR weight in
the log, one crop window per pair shared by its modality-swapped copy, the
task loss at the label's full resolution, and no padding of the task input.
"""
import copy
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.logging import MessageHub
from mmengine.registry import init_default_scope

from mmfusion.models.utils.misc import unwrap
from mmfusion.registry import DATASETS, MODELS
from mmfusion.structures.phases import set_phase

SEGFORMER = 'configs/tdfusion/segformer_msrs.py'
DEEPLAB = 'configs/tdfusion/deeplab_msrs.py'
RETINANET = 'configs/tdfusion/retinanet_msrs_det.py'


def _config(repo_root, config, **model):
    cfg = Config.fromfile(osp.join(repo_root, config))
    cfg.model.update(model)
    return cfg


def _model(cfg):
    init_default_scope('mmfusion')
    torch.manual_seed(0)
    return MODELS.build(cfg.model)  # no init_weights: nothing downloaded


def _produced_batch(cfg, root, n=2):
    """``n`` pairs through the config's own training pipeline and dataset
    settings (data root: the bundled pairs)."""
    init_default_scope('mmfusion')
    ds_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    ds_cfg.data_root = root
    ds = DATASETS.build(ds_cfg)
    torch.manual_seed(0)  # RandomFlip of the detection pipeline
    return pseudo_collate([ds[i] for i in range(n)])


def _iteration(i=0):
    MessageHub.get_current_instance().update_info('iter', i)


def _task_batch(model, task_inputs, task_samples, fused_y=None):
    """What the task model receives for the task view (``fused_y``: the
    fused Y, default the VIS-Y): its own data preprocessor's output, as
    :class:`TaskAdapter` feeds it."""
    adapter = unwrap(model.task)
    fused_y = task_inputs['vis_y'] if fused_y is None else fused_y
    return adapter.model.data_preprocessor(
        dict(
            inputs=adapter.to_task_inputs(fused_y, task_inputs['vis_cbcr']),
            data_samples=copy.deepcopy(task_samples)), True)


# ---------------------------------------------------------------- crops
@pytest.mark.parametrize('config', [SEGFORMER, RETINANET])
def test_published_crops_one_window_per_pair_shared_by_swapped_copy(
        repo_root, msrs_mini, config):
    cfg = _config(repo_root, config)
    model = _model(cfg)
    assert model.swap_modalities and model.fusion_crop_size == (256, 256)
    data = _produced_batch(cfg, msrs_mini)
    _iteration(3)
    crop, _, _ = model.views(copy.deepcopy(data))
    n = 2
    assert crop['ir'].shape == (2 * n, 1, 256, 256)
    for i in range(n):
        # the swapped copy of pair i is the same region, modalities
        # exchanged (a window drawn per image of the swapped batch is not)
        assert torch.equal(crop['ir'][n + i], crop['vis_y'][i])
        assert torch.equal(crop['vis_y'][n + i], crop['ir'][i])
        assert torch.equal(crop['vis_cbcr'][n + i], crop['vis_cbcr'][i])
    # reproducible from (seed, iteration): a resumed run crops alike
    again, _, _ = model.views(copy.deepcopy(data))
    assert all(torch.equal(crop[k], again[k]) for k in crop)
    _iteration(4)
    other, _, _ = model.views(copy.deepcopy(data))
    assert not torch.equal(crop['ir'], other['ir'])


def test_crop_windows_can_be_given(repo_root, msrs_mini):
    """The parity tool forces the released code's windows: one ``(top,
    left)`` per pair, in the preprocessed batch's pixels."""
    cfg = _config(repo_root, SEGFORMER)
    model = _model(cfg)
    data = _produced_batch(cfg, msrs_mini)
    inputs = model.data_preprocessor(copy.deepcopy(data), True)['inputs']
    crop, _, _ = model.views(
        copy.deepcopy(data), windows=[(10, 20), (224, 384)])
    for i, (top, left) in enumerate([(10, 20), (224, 384)]):
        window = (slice(top, top + 256), slice(left, left + 256))
        assert torch.equal(crop['ir'][i], inputs['ir'][i][:, window[0],
                                                          window[1]])
        assert torch.equal(crop['ir'][2 + i], inputs['vis_y'][i][:, window[0],
                                                                 window[1]])
    with pytest.raises(ValueError, match='leaves the batch'):
        model.views(copy.deepcopy(data), windows=[(0, 0), (300, 0)])
    with pytest.raises(ValueError, match='2 images'):
        model.views(copy.deepcopy(data), windows=[(0, 0)])


# ---------------------------------------------------------------- labels
@pytest.mark.parametrize('config', [SEGFORMER, DEEPLAB])
def test_published_task_labels_full_resolution(repo_root, msrs_mini, config):
    cfg = _config(repo_root, config)
    model = _model(cfg)
    data = _produced_batch(cfg, msrs_mini)
    labels = [s.gt_sem_seg.data for s in data['data_samples']]
    _iteration()
    _, task_in, task_s = model.views(copy.deepcopy(data))
    assert task_in['ir'].shape == (4, 1, 240, 320)
    assert len(task_s) == 4
    for i, sample in enumerate(task_s):
        # the loaded 480x640 label, not resized to the 240x320 view
        assert torch.equal(sample.gt_sem_seg.data, labels[i % 2])
    # what the task's heads receive: still full resolution
    batch = _task_batch(model, task_in, task_s)
    assert all(s.gt_sem_seg.data.shape == (1, 480, 640)
               for s in batch['data_samples'])


@pytest.mark.parametrize('config', [SEGFORMER, DEEPLAB])
@pytest.mark.slow
def test_published_task_loss_upsamples_logits_to_full_res_label(
        repo_root, msrs_mini, config):
    """Every head's loss (DeepLabV3+'s auxiliary FCN head too) is the CE of
    its logits upsampled (bilinear) to the 480x640 label, averaged over its
    307,200 pixels."""
    cfg = _config(repo_root, config)
    model = _model(cfg)
    model.task.eval()  # no dropout: the two passes below are the same
    data = _produced_batch(cfg, msrs_mini, n=1)
    _iteration()
    _, task_in, task_s = model.views(copy.deepcopy(data))
    fused = 0.5 * (task_in['ir'] + task_in['vis_y'])
    seg = unwrap(model.task).model
    with torch.no_grad():
        losses = model.task_loss(fused, task_in, task_s)
        feats = seg.extract_feat(
            _task_batch(model, task_in, task_s, fused)['inputs'])
    label = torch.cat([s.gt_sem_seg.data for s in task_s])
    heads = dict(decode=seg.decode_head)
    if seg.with_auxiliary_head:
        heads['aux'] = seg.auxiliary_head
    assert len(heads) == (2 if config == DEEPLAB else 1)
    for name, head in heads.items():
        with torch.no_grad():
            logits = head(feats)
        # the view's own resolution (a fraction of 240x320), not padded
        assert 320 % logits.shape[-1] == 0 and \
            logits.shape[-2] * 320 == logits.shape[-1] * 240
        up = F.interpolate(
            logits,
            size=(480, 640),
            mode='bilinear',
            align_corners=head.align_corners)
        expected = head.loss_decode.loss_weight * F.cross_entropy(
            up, label, ignore_index=255)
        torch.testing.assert_close(
            losses[f'{name}.loss_ce'], expected, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------- padding
@pytest.mark.parametrize('config', [SEGFORMER, DEEPLAB])
def test_published_segmentor_input_is_not_padded(repo_root, msrs_mini, config):
    cfg = _config(repo_root, config)
    model = _model(cfg)
    data = _produced_batch(cfg, msrs_mini)
    _iteration()
    _, task_in, task_s = model.views(copy.deepcopy(data))
    batch = _task_batch(model, task_in, task_s)
    # the 240x320 view as it is: no grey rows, no 255 labels in the CE mean
    assert batch['inputs'].shape[-2:] == (240, 320)
    for s in batch['data_samples']:
        assert tuple(s.padding_size) == (0, 0, 0, 0)
        assert not (s.gt_sem_seg.data == 255).any()


def test_published_detector_view_is_a_multiple_not_padded(
        repo_root, msrs_mini):
    """RetinaNet's preprocessor pads to a multiple of 32: the view is
    resized to 256x320 instead (boxes scaled exactly), and nothing is
    padded."""
    cfg = _config(repo_root, RETINANET)
    model = _model(cfg)
    data = _produced_batch(cfg, msrs_mini)
    boxes = [
        s.gt_instances.bboxes.tensor.clone() for s in data['data_samples']
    ]
    _iteration()
    _, task_in, task_s = model.views(copy.deepcopy(data))
    assert task_in['ir'].shape == (4, 1, 256, 320)
    batch = _task_batch(model, task_in, task_s)
    assert batch['inputs'].shape[-2:] == (256, 320)
    scale = torch.tensor([320 / 640, 256 / 480] * 2)
    for i, s in enumerate(batch['data_samples']):
        assert tuple(s.img_shape) == tuple(s.batch_input_shape) == (256, 320)
        torch.testing.assert_close(
            s.gt_instances.bboxes, boxes[i % 2] * scale, rtol=0, atol=1e-4)


def test_task_padding_options(repo_root, msrs_mini):
    """A segmentor that pads to 32: ``'resize'`` (default) gives it a
    256x320 view with full-resolution labels; ``'preprocessor'`` with
    ``task_labels='view'`` is mmfusion's behaviour before issue 22 (the
    view padded with grey rows, the label resized and padded with 255)."""
    cfg = _config(repo_root, SEGFORMER)
    cfg.model.task.model.data_preprocessor.size_divisor = 32
    data = _produced_batch(cfg, msrs_mini, n=1)
    _iteration()
    model = _model(cfg)
    _, task_in, task_s = model.views(copy.deepcopy(data))
    batch = _task_batch(model, task_in, task_s)
    assert batch['inputs'].shape[-2:] == (256, 320)
    assert all(
        tuple(s.padding_size) == (0, 0, 0, 0) for s in batch['data_samples'])
    assert task_s[0].gt_sem_seg.data.shape == (1, 480, 640)

    cfg.model.update(task_padding='preprocessor', task_labels='view')
    model = _model(cfg)
    _, task_in, task_s = model.views(copy.deepcopy(data))
    assert task_in['ir'].shape[-2:] == (240, 320)
    batch = _task_batch(model, task_in, task_s)
    assert batch['inputs'].shape[-2:] == (256, 320)
    label = batch['data_samples'][0].gt_sem_seg.data
    assert label.shape == (1, 256, 320) and (label[:, 240:] == 255).all()
    # grey: 0 after the (127.5, 127.5) normalisation
    assert (batch['inputs'][:, :, 240:] == 0).all()

    # 'preprocessor' with full-resolution labels cannot keep them aligned
    # with a padded view: they follow the view, with a warning
    cfg.model.update(task_labels='full')
    model = _model(cfg)
    _, _, task_s = model.views(copy.deepcopy(data))
    assert task_s[0].gt_sem_seg.data.shape == (1, 240, 320)
    with pytest.raises(ValueError, match='task_padding'):
        _model(_config(repo_root, SEGFORMER, task_padding='pad'))
    with pytest.raises(ValueError, match='task_labels'):
        _model(_config(repo_root, SEGFORMER, task_labels='half'))


# ------------------------------------------------------------- w_ir log
@MODELS.register_module(name='_BrighterInputGenerator', force=True)
class _BrighterInputGenerator(torch.nn.Module):
    """A loss generator that gives 0.8 of the weight to the brighter of its
    two inputs at every pixel (so, on pairs whose IR is brighter everywhere,
    to the IR image, whichever argument it comes in)."""

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(()))

    def forward(self, a, b):
        first = torch.where(a > b, 0.8, 0.2) * self.scale
        return torch.cat([first, 1 - first], dim=1)


def test_logged_w_ir_is_the_true_ir_weight(msrs_mini):
    from test_tdfusion import _batches, _build
    b1, b2 = _batches(msrs_mini, 'seg')
    for batch in (b1, b2):  # IR brighter than VIS everywhere
        for inputs in batch['inputs']:
            inputs[:3] = 40  # VIS (BGR)
            inputs[3:] = 200  # IR
    model, ow = _build(
        'seg', loss_generator=dict(type='_BrighterInputGenerator'))
    assert model.swap_modalities
    hub = MessageHub.get_current_instance()
    hub.update_info('iter', 0)
    set_phase('meta')
    log = model.train_step([b1, b2], ow)
    # channel 0 over the swapped batch would read (0.8 + 0.2) / 2 = 0.5
    assert float(log['meta_inner.w_ir']) == pytest.approx(0.8, abs=1e-6)
    # without the swap (a batch of one pair: the virtual step alone, the
    # task's BN needs two)
    model.swap_modalities = False
    with torch.no_grad():
        model.loss_generator.scale.fill_(1.)  # undo the meta step's update
    crop, _, _ = model.views(b1)
    assert crop['ir'].shape[0] == 1
    _, inner_log = model.virtual_step(crop, alpha=1e-4)
    assert float(inner_log['w_ir']) == pytest.approx(0.8, abs=1e-6)
