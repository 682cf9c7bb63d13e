# Copyright (c) mmfusion contributors. All rights reserved.
"""What the task model of one row of the task-driven table sees."""
import re
from dataclasses import dataclass
from typing import Optional

__all__ = ['InputSource']


@dataclass
class InputSource:
    """One row of the task-driven table: what the task model sees.

    Args:
        name: row label (``'VIS'``, ``'IR'``, a method name); must be unique.
        modality: ``'vis'``, ``'ir'`` or ``'fused'``.
        fused_dir: folder of an external method's fused images (``'fused'``
            sources), flat or with one sub-folder per split (see
            :func:`resolve_fused_folder`).
        model_config, checkpoint: an mmfusion model that fuses the pairs
            (``'fused'`` sources without ``fused_dir``).
    """
    name: str
    modality: str
    fused_dir: Optional[str] = None
    model_config: Optional[str] = None
    checkpoint: Optional[str] = None

    def __post_init__(self):
        if self.modality not in ('vis', 'ir', 'fused'):
            raise ValueError(f'source {self.name!r}: modality must be vis, '
                             f'ir or fused, got {self.modality!r}')
        if self.modality == 'fused':
            by_folder = self.fused_dir is not None
            by_model = self.model_config is not None or \
                self.checkpoint is not None
            if by_folder == by_model:
                raise ValueError(
                    f'source {self.name!r}: give either a folder of fused '
                    'images or a model config and checkpoint')
            if by_model and (self.model_config is None
                             or self.checkpoint is None):
                raise ValueError(f'source {self.name!r}: a fusion model '
                                 'needs both its config and its checkpoint')

    @property
    def slug(self) -> str:
        """File-system-safe name (the work sub-folder)."""
        return re.sub(r'[^A-Za-z0-9._-]+', '_', self.name).strip('_') or '_'

    def describe(self) -> str:
        if self.modality == 'vis':
            return 'visible image only'
        if self.modality == 'ir':
            return 'infrared image only'
        if self.fused_dir is not None:
            return f'fused images in `{self.fused_dir}`'
        return f'fused by `{self.model_config}` with `{self.checkpoint}`'

    @classmethod
    def baseline(cls, modality: str) -> 'InputSource':
        return cls(name=modality.upper(), modality=modality)
