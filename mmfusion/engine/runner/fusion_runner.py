# Copyright (c) mmfusion contributors. All rights reserved.
import copy
import time
from typing import Callable, Dict, Optional, Union

import mmengine
import torch.nn as nn
from mmengine.config import Config
from mmengine.dist import is_distributed, master_only
from mmengine.fileio import join_path
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapper
from mmengine.registry import MODEL_WRAPPERS
from mmengine.runner import Runner
from mmengine.runner.checkpoint import (_load_checkpoint_to_model,
                                        weights_to_cpu)
from mmengine.utils import apply_to, get_git_hash
from torch.nn.parallel.distributed import DistributedDataParallel

from mmfusion.registry import RUNNERS
from mmfusion.utils.checkpoint import (latest_intact_checkpoint,
                                       load_checkpoint_any,
                                       mmengine_checkpoint_globals,
                                       save_checkpoint_file)
from mmfusion.utils.config_text import TextOnceConfig
from mmfusion.utils.dist import cpu_only, init_dist


def _is_local(path: str, backend_args: Optional[dict]) -> bool:
    return '://' not in str(path) and (backend_args is None or
                                       backend_args.get('backend') == 'local')


@RUNNERS.register_module()
class FusionRunner(Runner):
    """mmengine's :class:`~mmengine.runner.Runner` with mmfusion's rules for
    checkpoints and CPU distributed training. Every mmfusion config selects
    it (``runner_type`` in ``configs/_base_/default_runtime.py``); a plain
    ``Runner`` in the same process is not affected.

    * **Checkpoint files are whole or absent.** Local checkpoints are
      written by :func:`~mmfusion.utils.checkpoint.save_checkpoint_file`:
      to a temporary file moved over the name, a full disk an error naming
      the file and the space it needs, nothing left behind. Remote backends
      (``backend_args``, ``s3://``...) are written by mmengine as before.
    * **Damaged checkpoints are named.** ``load_from`` / ``resume`` of a
      truncated, empty or corrupt file raises
      :class:`~mmfusion.utils.checkpoint.CheckpointDamagedError` naming it
      and the previous intact checkpoint of its folder; auto-resume
      (``resume=True`` without ``load_from``) falls back to that one, with
      a warning.
    * **Safe loading on torch >= 2.6.** Checkpoints (and ``Pretrained``
      weight initialisation) are read with torch's safe unpickler, with what
      mmengine pickles besides tensors allow-listed for those loads only.
    * **Distributed on CPU.** ``launcher='pytorch'`` on a machine without
      CUDA creates a gloo process group (mmengine's calls
      ``torch.cuda.set_device``) and wraps CPU modules in DDP without CUDA
      ``device_ids``; with CUDA, mmengine's set-up as is.
    * **The config text is formatted once.** mmengine formats it with yapf
      (seconds for a task-driven config) for the log, the work dir's copy,
      the visualizer, the message hub and every checkpoint; ``runner.cfg``
      is a :class:`~mmfusion.utils.config_text.TextOnceConfig`, which
      formats each content once.
    """

    def __init__(self, *args, cfg: Optional[Config] = None, **kwargs):
        if isinstance(cfg, Config):
            cfg = TextOnceConfig.of(cfg)
        super().__init__(*args, cfg=cfg, **kwargs)

    # ------------------------------------------------------ distributed
    def setup_env(self, env_cfg: Dict) -> None:
        if self.distributed and not is_distributed():
            init_dist(self.launcher, **env_cfg.get('dist_cfg', {}))
        super().setup_env(env_cfg)

    def wrap_model(
            self, model_wrapper_cfg: Optional[Dict],
            model: nn.Module) -> Union[DistributedDataParallel, nn.Module]:
        if self.distributed and cpu_only() and not is_model_wrapper(model):
            # mmengine gives DDP wrappers device_ids=[LOCAL_RANK], a CUDA
            # index: CPU modules take none
            if model_wrapper_cfg is None:
                model_wrapper_cfg = dict(
                    type='MMDistributedDataParallel',
                    broadcast_buffers=False,
                    find_unused_parameters=self.cfg.get(
                        'find_unused_parameters', False))
            model_wrapper_cfg = copy.deepcopy(model_wrapper_cfg)
            wrapper = MODEL_WRAPPERS.get(
                model_wrapper_cfg.get('type', 'MMDistributedDataParallel'))
            if isinstance(wrapper, type) and issubclass(
                    wrapper, DistributedDataParallel):
                model_wrapper_cfg.setdefault('device_ids', None)
        return super().wrap_model(model_wrapper_cfg, model)

    # ------------------------------------------------------- checkpoints
    def _init_model_weights(self) -> None:
        # init_cfg=dict(type='Pretrained', checkpoint=<an mmengine file>)
        with mmengine_checkpoint_globals():
            super()._init_model_weights()

    def load_or_resume(self) -> None:
        if self._has_loaded or not (self._resume and self._load_from is None):
            return super().load_or_resume()
        # auto-resume: the latest checkpoint, or the previous intact one
        resume_from = latest_intact_checkpoint(self.work_dir)
        self.logger.info(
            f'Auto resumed from the latest checkpoint {resume_from}.')
        if resume_from is not None:
            self.resume(resume_from)
            self._has_loaded = True

    def load_checkpoint(self,
                        filename: str,
                        map_location: Union[str, Callable] = 'cpu',
                        strict: bool = False,
                        revise_keys: list = [(r'^module.', '')]):
        """mmengine's ``Runner.load_checkpoint``, reading the file with
        :func:`~mmfusion.utils.checkpoint.load_checkpoint_any` (checked for
        damage, safe unpickler)."""
        checkpoint = load_checkpoint_any(filename, map_location=map_location)
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        model = self.model.module if is_model_wrapper(
            self.model) else self.model
        checkpoint = _load_checkpoint_to_model(
            model, checkpoint, strict, revise_keys=revise_keys)
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint

    @master_only
    def save_checkpoint(self,
                        out_dir: str,
                        filename: str,
                        file_client_args: Optional[dict] = None,
                        save_optimizer: bool = True,
                        save_param_scheduler: bool = True,
                        meta: Optional[dict] = None,
                        by_epoch: bool = True,
                        backend_args: Optional[dict] = None):
        """mmengine 0.10's ``Runner.save_checkpoint`` (the same checkpoint
        dict, the same hooks), writing local files with
        :func:`~mmfusion.utils.checkpoint.save_checkpoint_file`."""
        if file_client_args is not None or not _is_local(
                out_dir, backend_args):
            return super().save_checkpoint(
                out_dir,
                filename,
                file_client_args=file_client_args,
                save_optimizer=save_optimizer,
                save_param_scheduler=save_param_scheduler,
                meta=meta,
                by_epoch=by_epoch,
                backend_args=backend_args)
        if meta is None:
            meta = {}
        elif not isinstance(meta, dict):
            raise TypeError(
                f'meta should be a dict or None, but got {type(meta)}')
        if by_epoch:
            # after_train_epoch saves before the epoch counter moves on
            meta.setdefault('epoch', self.epoch + 1)
            meta.setdefault('iter', self.iter)
        else:
            meta.setdefault('epoch', self.epoch)
            meta.setdefault('iter', self.iter + 1)
        filepath = join_path(out_dir, filename, backend_args=backend_args)
        meta.update(
            cfg=self.cfg.pretty_text,
            seed=self.seed,
            experiment_name=self.experiment_name,
            time=time.strftime('%Y%m%d_%H%M%S', time.localtime()),
            mmengine_version=mmengine.__version__ + get_git_hash())
        if hasattr(self.train_dataloader.dataset, 'metainfo'):
            meta.update(dataset_meta=self.train_dataloader.dataset.metainfo)
        model = self.model.module if is_model_wrapper(
            self.model) else self.model

        def to_cpu(state):
            return apply_to(state, lambda x: hasattr(x, 'cpu'),
                            lambda x: x.cpu())

        checkpoint = {
            'meta': meta,
            'state_dict': weights_to_cpu(model.state_dict()),
            'message_hub': to_cpu(self.message_hub.state_dict()),
        }
        if save_optimizer:
            if not isinstance(self.optim_wrapper, OptimWrapper):
                raise TypeError(
                    'self.optim_wrapper should be an `OptimWrapper` '
                    'or `OptimWrapperDict` instance, but got '
                    f'{self.optim_wrapper}')
            checkpoint['optimizer'] = to_cpu(self.optim_wrapper.state_dict())
        if save_param_scheduler and self.param_schedulers is None:
            self.logger.warning(
                '`save_param_scheduler` is True but `self.param_schedulers` '
                'is None, so skip saving parameter schedulers')
            save_param_scheduler = False
        if save_param_scheduler:
            if isinstance(self.param_schedulers, dict):
                checkpoint['param_schedulers'] = {
                    name: [s.state_dict() for s in schedulers]
                    for name, schedulers in self.param_schedulers.items()
                }
            else:
                checkpoint['param_schedulers'] = [
                    s.state_dict() for s in self.param_schedulers
                ]
        self.call_hook('before_save_checkpoint', checkpoint=checkpoint)
        save_checkpoint_file(checkpoint, filepath)


def build_runner(cfg) -> Runner:
    """The runner a config selects with ``runner_type`` (mmfusion's configs:
    :class:`FusionRunner`), else :class:`FusionRunner` (a task config of
    mmseg/mmdet trained by mmfusion's tools and protocol)."""
    if 'runner_type' not in cfg:
        return FusionRunner.from_cfg(cfg)
    return RUNNERS.build(cfg)
