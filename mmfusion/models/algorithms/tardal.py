# Copyright (c) mmfusion contributors. All rights reserved.
from typing import Dict, Sequence

import torch
from mmengine.optim import OptimWrapperDict
from torch import Tensor

from mmfusion.registry import MODELS
from mmfusion.structures import PhaseSpec
from ..losses.tardal_loss import sobel_magnitude, wgan_div_penalty
from ..utils.misc import prefix_log_vars as _prefixed
from ..utils.misc import seeded_generator, unwrap
from .fusion_model import ConfigType, FusionModel
from .seafusion import frozen

_ALL = ('fusion_net', 'task', 'target_discriminator', 'detail_discriminator')


def boxes_to_mask(samples: Sequence, shape: Sequence[int],
                  like: Tensor) -> Tensor:
    """``(N, 1, H, W)`` 0/1 masks: the union of each sample's ground-truth
    boxes (``gt_instances.bboxes``, x1 y1 x2 y2 in the batch's pixels),
    every pixel a box touches set (as :class:`MasksFromBoxes`)."""
    h, w = int(shape[0]), int(shape[1])
    mask = torch.zeros(len(samples), 1, h, w, dtype=like.dtype)
    for i, sample in enumerate(samples):
        inst = sample.get('gt_instances', None)
        if inst is None or 'bboxes' not in inst:
            raise KeyError(
                'TarDAL: a training sample has no gt_instances.bboxes: the '
                "target discriminator's mask is made from the box labels "
                "(load them with mmdet.LoadAnnotations(with_bbox=True))")
        boxes = inst.bboxes
        boxes = getattr(boxes, 'tensor', boxes)
        for x1, y1, x2, y2 in boxes.detach().cpu().reshape(-1, 4).tolist():
            top, left = int(max(y1, 0) // 1), int(max(x1, 0) // 1)
            bottom = int(-(-min(y2, h) // 1))
            right = int(-(-min(x2, w) // 1))
            mask[i, 0, top:max(bottom, top + 1), left:max(right, left + 1)] = 1
    return mask.to(like.device)


def _scaled(losses: dict, weight: float) -> dict:
    """The loss terms (keys with 'loss') times ``weight``; the rest (e.g.
    accuracies) as they are."""
    out = {}
    for name, value in losses.items():
        if 'loss' in name:
            value = [v * weight
                     for v in value] if isinstance(value,
                                                   (list,
                                                    tuple)) else value * weight
        out[name] = value
    return out


@MODELS.register_module()
class TarDAL(FusionModel):
    r"""Target-aware dual adversarial learning with detection-driven
    cooperative training (Liu et al., "Target-aware Dual Adversarial
    Learning and a Multi-scenario Multi-modality Benchmark to Fuse Infrared
    and Visible for Object Detection", CVPR 2022), as the released v1.0
    code (``scripts/train_fd.py``, ``pipeline/fuse.py``) trains it, with the
    detector any mmdet model through :class:`TaskAdapter`.

    Per batch, in the released order (``M``: the target mask, the union of
    the batch's ground-truth boxes; :math:`\nabla`: the Sobel magnitude,
    :func:`sobel_magnitude`; :math:`F = G(IR, VIS)`):

    1. **generator and detector** (one step each, from the same batch):
       :math:`L_G = b_f\,(L_{src}(F) + w_{adv}(w_t\,L_t + w_d\,L_d))` with
       :math:`L_t = -\overline{D_t(F \odot M)}`, :math:`L_d =
       -\overline{D_d(\nabla F \odot (1 - M_d))}` (:math:`M_d = M` with
       ``detail_mask``, else 0 as released); :math:`L_{det} = b_d\,
       L_T(\tilde F)` where :math:`\tilde F` is the generator's output in
       **eval mode** (running BN statistics) computed after the generator's
       forward and before its step. Released: :math:`\tilde F` is made
       under ``torch.no_grad`` (``Fuse.eval``), so the detection loss
       trains the detector only (``task_to_fusion=False``, default).
       ``task_to_fusion=True`` (the paper's cooperative training) also
       passes :math:`b_d L_T` of the train-mode :math:`F` to the generator,
       through the detector with frozen parameters and normalisation.
    2. **target critic**: :math:`-\overline{D_t(IR \odot M)} +
       \overline{D_t(\hat F \odot M)} + k\,\mathrm{div}`;
    3. **detail critic**: :math:`-\overline{D_d(\nabla VIS \odot (1 -
       M_d))} + \overline{D_d(\nabla \hat F \odot (1 - M_d))} + k\,
       \mathrm{div}`; :math:`\hat F` the updated generator's eval-mode
       output, detached; div the WGAN-div term (:func:`wgan_div_penalty`,
       k = 2, p = 6), its :math:`\alpha` drawn from a stream seeded by
       (seed, iteration).

    Phases (:class:`PhasedTrainLoop`): ``'warmup'`` leaves out the
    adversarial terms of :math:`L_G` (the released ``d_warm`` epochs: the
    critics train, the generator does not hear them yet); ``'joint'`` has
    them. The generator's output (tanh, [-1, 1]) is compared with the [0,
    1] images as it is, as released.

    Args:
        target_discriminator / detail_discriminator: critic configs
            (:class:`TarDALDiscriminator`).
        adv_weight: :math:`w_{adv}` (released CT: 0.2).
        target_weight / detail_weight: :math:`w_t, w_d` (0.5 each).
        bridge: ``dict(fusion=b_f, task=b_d)`` (0.5 each).
        div_k / div_p: WGAN-div's k and p (2, 6).
        detail_mask: mask the detail critic's inputs with :math:`1 - M`
            (released v1.0 default: ``False``).
        task_to_fusion: see above.
        task_driven: ``False`` makes the task-free twin of the task-gain
            experiment: no detector (``task=None``), the generator and both
            critics trained exactly as with one (content loss, target and
            detail games, same phases). As released (``task_to_fusion=
            False``) the detector never reaches the generator, so the twin's
            generator and critics follow the method's step for step from
            the same weights (tests/test_models/test_tardal_train.py); the
            task can only pay off through ``task_to_fusion=True``.
        gradient_eps: the :math:`\epsilon` of the Sobel magnitude (1e-8).
        fusion_net / fusion_loss / task / ...: see :class:`FusionModel`
            (``fusion_loss``: :class:`TarDALContentLoss`; ``task``: a
            :class:`TaskAdapter` of an mmdet detector, required).
    """

    requires_task = True
    PHASES = (
        PhaseSpec(
            'warmup',
            batches=1,
            updates=_ALL,
            doc='generator on the content loss, detector on the eval-mode '
            'fused image, both critics'),
        PhaseSpec(
            'joint',
            batches=1,
            updates=_ALL,
            doc='generator on content + target/detail adversarial losses, '
            'detector, both critics'),
    )

    def __init__(self,
                 target_discriminator: ConfigType,
                 detail_discriminator: ConfigType,
                 adv_weight: float = 0.2,
                 target_weight: float = 0.5,
                 detail_weight: float = 0.5,
                 bridge: dict = dict(fusion=0.5, task=0.5),
                 div_k: float = 2.,
                 div_p: float = 6.,
                 detail_mask: bool = False,
                 task_to_fusion: bool = False,
                 gradient_eps: float = 1e-8,
                 task_driven: bool = True,
                 **kwargs):
        if not task_driven:
            if kwargs.get('task') is not None:
                raise ValueError(
                    'a task-free TarDAL (task_driven=False) has no detector: '
                    'set model.task=None (and drop the task entry of '
                    'optim_wrapper and param_scheduler)')
            if task_to_fusion:
                raise ValueError('a task-free TarDAL has no detector to pass '
                                 'to the generator: task_to_fusion=False')
            # (read by FusionModel.__init__: no task is needed)
            self.requires_task = False
        super().__init__(**kwargs)
        self.task_driven = task_driven
        unknown = set(bridge) - {'fusion', 'task'}
        if unknown:
            raise KeyError(f'bridge: unknown keys {sorted(unknown)} '
                           "(expected 'fusion' and 'task')")
        self.target_discriminator = MODELS.build(target_discriminator)
        self.detail_discriminator = MODELS.build(detail_discriminator)
        self.adv_weight = adv_weight
        self.target_weight = target_weight
        self.detail_weight = detail_weight
        self.bridge = dict(dict(fusion=0.5, task=0.5), **bridge)
        self.div_k = div_k
        self.div_p = div_p
        self.detail_mask = detail_mask
        self.task_to_fusion = task_to_fusion
        self.gradient_eps = gradient_eps

    # ------------------------------------------------------------ pieces
    def target_mask(self, inputs: Dict[str, Tensor],
                    samples: Sequence) -> Tensor:
        """The target mask :math:`M` of a preprocessed batch (from its
        boxes, :func:`boxes_to_mask`)."""
        ir = inputs['ir']
        return boxes_to_mask(samples, ir.shape[-2:], ir)

    def gradient(self, x: Tensor) -> Tensor:
        return sobel_magnitude(x, self.gradient_eps)

    def eval_fuse(self, inputs: Dict[str, Tensor]) -> Tensor:
        """The generator's output in eval mode (running BN statistics),
        without gradient, as the released ``Fuse.eval``; its mode is put
        back."""
        net = unwrap(self.fusion_net)
        mode = net.training
        net.eval()
        try:
            with torch.no_grad():
                return net(inputs['ir'], inputs['vis_y'])
        finally:
            net.train(mode)

    def adversarial_losses(self, fused: Tensor,
                           mask: Tensor) -> Dict[str, Tensor]:
        """The generator's side of both games, weighted (the critics'
        parameters get no gradient: they are called unwrapped and only the
        generator's parameters are back-propagated into)."""
        d_t = unwrap(self.target_discriminator)
        d_d = unwrap(self.detail_discriminator)
        keep = 1 - mask if self.detail_mask else 1
        l_t = -d_t(fused * mask).mean()
        l_d = -d_d(self.gradient(fused) * keep).mean()
        w = self.adv_weight
        return dict(
            loss_target=w * self.target_weight * l_t,
            loss_detail=w * self.detail_weight * l_d)

    def critic_loss(self, critic, real: Tensor, fake: Tensor,
                    alpha: Tensor) -> Tensor:
        """:math:`-\\overline{D(real)} + \\overline{D(fake)} + k\\,div`."""
        div = wgan_div_penalty(critic, real, fake, alpha, self.div_p)
        return -critic(real).mean() + critic(fake).mean() + self.div_k * div

    def div_alphas(self, n: int, like: Tensor) -> tuple:
        """The interpolation weights of both critics' div terms (target,
        detail), ``(n, 1, 1, 1)`` each, from the (seed, iteration)
        stream."""
        gen = seeded_generator(self.seed)
        a_t = torch.rand(n, 1, 1, 1, generator=gen)
        a_d = torch.rand(n, 1, 1, 1, generator=gen)
        return a_t.to(like), a_d.to(like)

    # ------------------------------------------------------------ steps
    def train_step(self, data,
                   optim_wrapper: OptimWrapperDict) -> Dict[str, Tensor]:
        adversarial = self.current_phase(data).name == 'joint'
        data = self.data_preprocessor(data, True)
        inputs, samples = data['inputs'], data['data_samples']
        mask = self.target_mask(inputs, samples)
        log = self.generator_task_step(inputs, samples, mask, optim_wrapper,
                                       adversarial)
        log.update(self.critic_steps(inputs, mask, optim_wrapper))
        return self.with_nonfinite_count(log)

    def generator_task_step(self, inputs: Dict[str, Tensor], samples: Sequence,
                            mask: Tensor, ow: OptimWrapperDict,
                            adversarial: bool) -> Dict[str, Tensor]:
        """Step 1: the generator's and the detector's updates."""
        stash = {}
        b_f, b_d = self.bridge['fusion'], self.bridge['task']

        def generator_losses():
            fused = self.fusion_net(inputs['ir'], inputs['vis_y'])
            losses = self.compute_fusion_loss(fused, inputs)
            if adversarial:
                losses.update(self.adversarial_losses(fused, mask))
            losses = _scaled(losses, b_f)
            # the detector's input: after the train-mode forward (its BN
            # statistics moved), before the step
            if self.task_driven:
                stash['task_input'] = self.eval_fuse(inputs)
            if self.task_to_fusion:
                with frozen(unwrap(self.task), layers_only=True) as task:
                    task_losses = task(fused, inputs['vis_cbcr'], samples,
                                       'loss')
                losses.update({
                    f'det.{k}': v
                    for k, v in _scaled(task_losses, b_d).items()
                })
            return losses

        generator_params = [
            p for p in self.fusion_net.parameters() if p.requires_grad
        ]
        g_log = self.guarded_update(
            ow['fusion_net'],
            generator_losses,
            'fusion',
            self.fusion_net,
            inputs=generator_params)

        def task_losses():
            return _scaled(
                self.task(stash['task_input'], inputs['vis_cbcr'], samples,
                          'loss'), b_d)

        if not self.task_driven:
            return _prefixed(fusion=g_log)
        t_log = self.guarded_update(ow['task'], task_losses, 'task', self.task)
        return _prefixed(fusion=g_log, task=t_log)

    def critic_steps(self, inputs: Dict[str, Tensor], mask: Tensor,
                     ow: OptimWrapperDict) -> Dict[str, Tensor]:
        """Steps 2 and 3: the target critic, then the detail critic, on the
        updated generator's eval-mode output."""
        fake = self.eval_fuse(inputs)
        a_t, a_d = self.div_alphas(fake.size(0), fake)
        keep = 1 - mask if self.detail_mask else torch.ones_like(mask)
        real_t, fake_t = inputs['ir'] * mask, fake * mask
        real_d = self.gradient(inputs['vis_y']) * keep
        fake_d = self.gradient(fake) * keep
        t_log = self.guarded_update(
            ow['target_discriminator'], lambda: dict(
                loss_critic=self.critic_loss(self.target_discriminator, real_t,
                                             fake_t, a_t)),
            'target_discriminator', self.target_discriminator)
        d_log = self.guarded_update(
            ow['detail_discriminator'], lambda: dict(
                loss_critic=self.critic_loss(self.detail_discriminator, real_d,
                                             fake_d, a_d)),
            'detail_discriminator', self.detail_discriminator)
        return _prefixed(target=t_log, detail=d_log)

    def check_targets(self, data_samples: Sequence) -> None:
        """Besides the task's targets, the boxes the target mask is made
        of."""
        for sample in data_samples:
            inst = sample.get('gt_instances', None)
            if inst is None or 'bboxes' not in inst:
                raise ValueError(
                    'TarDAL needs box labels (gt_instances.bboxes) in its '
                    'training data: the target mask is made from them. Load '
                    'them: mmdet.LoadAnnotations(with_bbox=True, '
                    "with_label=True) on a dataset with a 'det' folder")
        super().check_targets(data_samples)
