# Copyright (c) mmfusion contributors. All rights reserved.
"""Key mappings from the published checkpoints of SeAFusion, TDFusion,
BDLFusion and TarDAL to mmfusion's modules.

Each ``*_convert`` function takes the source ``state_dict`` (official module
names) and returns ``OrderedDict``s keyed by mmfusion's names, without any
prefix; tensors are copied unchanged (the architectures match layer for
layer). Keys that are neither mapped nor knowingly dropped raise a
``KeyError`` that lists them, so a checkpoint of another architecture is never
converted silently. The command-line tools in ``tools/model_converters/`` wrap
these functions.
"""
import re
from collections import OrderedDict
from typing import Callable, Dict, Iterable, List, Optional, Tuple, Union

import torch
from torch import Tensor

# (regex, replacement): a ``re.sub`` template or a function of the match
Rule = Tuple[str, Union[str, Callable]]


def unwrap_state_dict(checkpoint, source: str = 'checkpoint') -> dict:
    """The tensors of a loaded checkpoint: a bare ``state_dict`` or one
    nested under ``'state_dict'``, ``'model'`` or ``'net'``; a
    ``'module.'`` prefix (DataParallel) is removed."""
    if not isinstance(checkpoint, dict):
        raise TypeError(f'{source}: expected a state_dict (a dict of '
                        f'tensors), got {type(checkpoint).__name__}')
    for key in ('state_dict', 'model', 'net'):
        if key in checkpoint and isinstance(checkpoint[key], dict):
            checkpoint = checkpoint[key]
            break
    state = OrderedDict()
    for k, v in checkpoint.items():
        if not isinstance(v, Tensor):
            continue
        state[k[len('module.'):] if k.startswith('module.') else k] = v
    if not state:
        raise ValueError(f'{source} holds no tensors')
    return state


def _apply_rules(state: dict, rules: Iterable[Rule], drop: Iterable[str],
                 source: str) -> OrderedDict:
    """Rename every key with the first fully matching rule;
    keys matching a ``drop`` pattern are skipped. Several source keys may
    map to one target only if they hold identical tensors (TDFusion's Meta
    layers register each conv weight twice)."""
    rules = [(re.compile(p), r) for p, r in rules]
    drop = [re.compile(p) for p in drop]
    out = OrderedDict()
    origin = {}
    unknown = []
    for key, value in state.items():
        if any(d.fullmatch(key) for d in drop):
            continue
        for pattern, repl in rules:
            if pattern.fullmatch(key):
                new = pattern.sub(repl, key)
                break
        else:
            unknown.append(key)
            continue
        if new in out:
            if out[new].shape != value.shape or \
                    not torch.equal(out[new], value):
                raise ValueError(
                    f'{source}: {origin[new]!r} and {key!r} both map to '
                    f'{new!r} but hold different tensors')
            continue
        out[new] = value.detach().clone()
        origin[new] = key
    if unknown:
        shown = ', '.join(unknown[:8]) + (' ...' if len(unknown) > 8 else '')
        raise KeyError(f'{source}: {len(unknown)} unexpected keys ({shown}); '
                       'is this a checkpoint of the right network?')
    return out


# --------------------------------------------------------------------------
# SeAFusion (Linfeng-Tang/SeAFusion, FusionNet.py)
# --------------------------------------------------------------------------
_SEAFUSION_RULES: List[Rule] = [
    (r'vis_conv\.conv\.(weight|bias)', r'vis_stem.conv.\1'),
    (r'inf_conv\.conv\.(weight|bias)', r'ir_stem.conv.\1'),
]
for _src, _dst in (('vis', 'vis'), ('inf', 'ir')):
    _SEAFUSION_RULES += [
        (rf'{_src}_rgbd(\d)\.dense\.conv1\.conv\.(weight|bias)',
         rf'{_dst}_grdb\1.dense1.conv.\2'),
        (rf'{_src}_rgbd(\d)\.dense\.conv2\.conv\.(weight|bias)',
         rf'{_dst}_grdb\1.dense2.conv.\2'),
        (rf'{_src}_rgbd(\d)\.convdown\.conv\.(weight|bias)',
         rf'{_dst}_grdb\1.dense_proj.\2'),
        (rf'{_src}_rgbd(\d)\.sobelconv\.convx\.weight',
         rf'{_dst}_grdb\1.sobel.weight_x'),
        (rf'{_src}_rgbd(\d)\.sobelconv\.convy\.weight',
         rf'{_dst}_grdb\1.sobel.weight_y'),
        (rf'{_src}_rgbd(\d)\.convup\.conv\.(weight|bias)',
         rf'{_dst}_grdb\1.sobel_proj.\2'),
    ]
_SEAFUSION_RULES += [
    (r'decode4\.conv\.(weight|bias)', r'decoder.0.conv.\1'),
    (r'decode3\.conv\.(weight|bias)', r'decoder.1.conv.\1'),
    (r'decode2\.conv\.(weight|bias)', r'decoder.2.conv.\1'),
    (r'decode1\.conv\.(weight|bias)', r'head.\1'),
]
# declared in the official decoder but never called in its forward
_SEAFUSION_DROP = [r'decode\d\.bn\..*']


def seafusion_convert(state: dict,
                      source: str = 'SeAFusion checkpoint') -> OrderedDict:
    """Official SeAFusion ``FusionNet`` -> :class:`SeAFusionNet`. The unused
    BatchNorm layers of the decoder are dropped."""
    return _apply_rules(state, _SEAFUSION_RULES, _SEAFUSION_DROP, source)


# --------------------------------------------------------------------------
# TDFusion (HaowenBai/TDFusion, nets/ReFusion.py): ReFusion and LPN
# --------------------------------------------------------------------------
# A Meta layer stores its tensors twice: ``<name>.conv.weight`` (the wrapped
# nn.Conv2d) and ``<name>.weight`` (the same Parameter registered again).
_W = r'(?:conv\.)?weight'


def _block_rules(src: str, dst: str) -> List[Rule]:
    """Restormer block ``<src>.<i>.*`` -> ``<dst>.<i>.*``."""
    return [
        (rf'{src}\.(\d+)\.norm([12])\.body\.(weight|bias)',
         rf'{dst}.\1.norm\2.\3'),
        (rf'{src}\.(\d+)\.attn\.temperature', rf'{dst}.\1.attn.temperature'),
        (rf'{src}\.(\d+)\.attn\.(qkv|qkv_dwconv|project_out)\.{_W}',
         rf'{dst}.\1.attn.\2.weight'),
        (rf'{src}\.(\d+)\.ffn\.(project_in|dwconv|project_out)\.{_W}',
         rf'{dst}.\1.ffn.\2.weight'),
    ]


_REFUSION_RULES: List[Rule] = [
    (rf'project_in_1\.{_W}', 'encoder1.stem.weight'),
    (rf'project_in_2\.{_W}', 'encoder2.stem.weight'),
    *_block_rules('encoder1', 'encoder1.blocks'),
    *_block_rules('encoder2', 'encoder2.blocks'),
    (r'FM\.temperature([12])', r'fusion.temperature\1'),
    (rf'FM\.(qkv[12]|qkv[12]_dwconv|project_mid[12]|project_out[12])\.{_W}',
     r'fusion.\1.weight'),
    (rf'FM\.project_E\.{_W}', 'fusion.gate.weight'),
    (rf'FM\.project_E_d\.{_W}', 'fusion.gate_dwconv.weight'),
    (rf'FM\.project_E([12])\.{_W}', r'fusion.value\1.weight'),
    (rf'FM\.project_E([12])_d\.{_W}', r'fusion.value\1_dwconv.weight'),
    *_block_rules('decoder', 'decoder'),
    (rf'project_out_0\.{_W}', 'head_conv1.weight'),
    (rf'project_out_1\.{_W}', 'head_conv2.weight'),
]

_LPN_RULES: List[Rule] = [
    (rf'patch_embed1\.{_W}', 'encoder1.stem.weight'),
    (rf'patch_embed2\.{_W}', 'encoder2.stem.weight'),
    *_block_rules('encoder1', 'encoder1.blocks'),
    *_block_rules('encoder2', 'encoder2.blocks'),
    *_block_rules('encoder3', 'joint'),
    (rf'out1\.{_W}', 'head_conv1.weight'),
    (r'out2\.weight', 'head_act.weight'),
    (rf'out3\.{_W}', 'head_conv2.weight'),
]


def tdfusion_convert(state: dict,
                     net: str = 'fusion_net',
                     source: str = 'TDFusion checkpoint') -> OrderedDict:
    """TDFusion ``ReFusion`` -> :class:`ReFusionNet` (``net='fusion_net'``,
    the released ``TDFusion_*.pth``), or ``LPN`` ->
    :class:`TDFusionLossGenerator` (``net='loss_generator'``)."""
    if net == 'fusion_net':
        rules = _REFUSION_RULES
    elif net == 'loss_generator':
        rules = _LPN_RULES
    else:
        raise ValueError(f"net must be 'fusion_net' or 'loss_generator', "
                         f'got {net!r}')
    return _apply_rules(state, rules, [], source)


# --------------------------------------------------------------------------
# BDLFusion (LiuZhu-CV/BDLFusion, model/fcos_fusion.py, Network_IJCAI)
# --------------------------------------------------------------------------
_BDL_FUSION_RULES: List[Rule] = [
    (r'conv1\.(weight|bias)', r'stem.\1'),
    (r'DRDB([12])\.Dcov([1-5])\.(weight|bias)',
     lambda m: f'drdb{m[1]}.convs.{int(m[2]) - 1}.{m[3]}'),
    (r'DRDB([12])\.conv\.(weight|bias)', r'drdb\1.fuse.\2'),
    (r'conv2\.(weight|bias)', r'head_conv1.\1'),
    (r'conv21\.(weight|bias)', r'head_conv2.\1'),
    (r'relu\.weight', 'act.weight'),
]
_BDL_DISC_RULES: List[Rule] = [
    (r'net\.0\.(weight|bias)', r'conv1.\1'),
    (r'net\.2\.weight', 'conv2.weight'),
    (r'net\.3\.(weight|bias|running_mean|running_var|num_batches_tracked)',
     r'bn.\1'),
    (r'net\.5\.weight', 'conv3.weight'),
]


def _sub_state(state: dict, prefix: str) -> OrderedDict:
    return OrderedDict(
        (k[len(prefix):], v) for k, v in state.items() if k.startswith(prefix))


def bdlfusion_convert(
        state: dict,
        source: str = 'BDLFusion checkpoint') -> Dict[str, OrderedDict]:
    """BDLFusion ``Network_IJCAI`` (or a bare ``Fusion_Network_IJ``) ->
    ``{'fusion_net': DRDBFusionNet state, 'discriminator':
    PixelDiscriminator state}`` (the latter only when present).

    The FCOS detector (``denoise_net.*``) and the GAN-loss label buffers are
    not converted; :func:`bdlfusion_dropped_keys` lists them.
    """
    if any(k.startswith('enhance_net.') for k in state):
        fusion = _sub_state(state, 'enhance_net.')
    else:
        fusion = OrderedDict(
            (k, v) for k, v in state.items()
            if not k.startswith(('discriminator.', 'denoise_net.',
                                 '_criterion')))
    out = {
        'fusion_net':
        _apply_rules(fusion, _BDL_FUSION_RULES, [], f'{source} (enhance_net)')
    }
    disc = _sub_state(state, 'discriminator.')
    if disc:
        out['discriminator'] = _apply_rules(disc, _BDL_DISC_RULES, [],
                                            f'{source} (discriminator)')
    return out


def bdlfusion_dropped_keys(state: dict) -> List[str]:
    """Keys of a BDLFusion checkpoint that :func:`bdlfusion_convert` does
    not convert (the detector and loss buffers)."""
    return [k for k in state if k.startswith(('denoise_net.', '_criterion'))]


# --------------------------------------------------------------------------
# TarDAL (JinyuanLiu-CV/TarDAL, modules/generator.py before v1.0,
# module/fuse/generator.py after: the same Generator)
# --------------------------------------------------------------------------
_BN = r'(weight|bias|running_mean|running_var|num_batches_tracked)'
_TARDAL_RULES: List[Rule] = [
    (r'encoder\.0\.(weight|bias)', r'stem.conv.\1'),
    (rf'encoder\.1\.{_BN}', r'stem.bn.\1'),
    (r'dense\.(\d+)\.0\.(weight|bias)', r'dense.\1.conv.\2'),
    (rf'dense\.(\d+)\.1\.{_BN}', r'dense.\1.bn.\2'),
    (r'fuse\.([012])\.0\.(weight|bias)', r'decoder.\1.conv.\2'),
    (rf'fuse\.([12])\.1\.{_BN}', r'decoder.\1.bn.\2'),
    (r'fuse\.3\.0\.(weight|bias)', r'head.\1'),
]


def tardal_generator_state(checkpoint,
                           source: str = 'TarDAL checkpoint') -> tuple:
    """The generator's tensors in a loaded TarDAL file and its ``use_eval``
    flag (``None`` when absent): a bare ``Generator`` state_dict (the
    released ``weights/*.pt``), a training checkpoint of the code before
    v1.0 (generator under ``'g'``) or a v1.0 one (under ``'fuse'``, with a
    ``use_eval`` entry)."""
    use_eval = None
    if isinstance(checkpoint, dict):
        for key in ('g', 'fuse'):
            if isinstance(checkpoint.get(key), dict):
                checkpoint = checkpoint[key]
                break
        if isinstance(checkpoint.get('use_eval'), bool):
            use_eval = checkpoint['use_eval']
    return unwrap_state_dict(checkpoint, source), use_eval


def tardal_convert(state: dict,
                   source: str = 'TarDAL checkpoint') -> OrderedDict:
    """Official TarDAL ``Generator`` -> :class:`TarDALGenerator` (all 46
    tensors of the released weights, BatchNorm buffers included)."""
    return _apply_rules(state, _TARDAL_RULES, [], source)


def convert_to_model(state: OrderedDict,
                     prefix: str,
                     out: Optional[OrderedDict] = None) -> OrderedDict:
    """Prefix converted keys for a model that holds the net as an attribute
    (``'fusion_net.'`` in :class:`FusionModel`)."""
    out = OrderedDict() if out is None else out
    for k, v in state.items():
        out[prefix + k] = v
    return out


def load_source_checkpoint(path: str) -> OrderedDict:
    """Read a published checkpoint with torch's safe loader and return its
    tensors (see :func:`unwrap_state_dict`)."""
    import os.path as osp
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint {path} does not exist')
    try:
        checkpoint = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as e:  # pickle errors, truncated files, not a zip ...
        raise RuntimeError(f'cannot read {path} as a PyTorch checkpoint: '
                           f'{e}') from e
    return unwrap_state_dict(checkpoint, path)


def save_mmfusion_checkpoint(state: OrderedDict,
                             path: str,
                             meta: Optional[dict] = None) -> None:
    """Write ``{'meta': meta, 'state_dict': state}``, the layout mmengine's
    ``load_checkpoint`` / ``load_from`` read."""
    import os
    import os.path as osp
    if osp.dirname(path):
        os.makedirs(osp.dirname(path), exist_ok=True)
    torch.save({'meta': dict(meta or {}), 'state_dict': state}, path)


def check_loads(module: torch.nn.Module, state: OrderedDict,
                what: str) -> None:
    """Load ``state`` into ``module`` strictly; a mismatch raises an error
    that names ``what``."""
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise RuntimeError(f'the converted {what} does not fit '
                           f'{type(module).__name__}: {e}') from e
