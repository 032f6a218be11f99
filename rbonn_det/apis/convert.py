"""Checkpoint conversion into a BiResNet backbone state dict.

Two sources:
- the released RBONN / ReActNet ImageNet ResNet layout (docs/pretrained.md):
  optional ``module.`` prefix; ``conv1``, ``bn1``, ``layer{s}.{i}.{move0,
  binary_conv.{weight,scale_factor,u}, bn1, move1, prelu, move2, downsample.{1,2}}``,
  ``fc``. Only ``scale_factor`` is renamed (to ``scale``); ``fc`` is dropped.
- a detector trained here: the ``backbone.`` part of its state dict.
Training state a layer declares (RBO's ``prev_grad``) is never carried over: it
starts empty.
"""
import os
import re
from collections import OrderedDict
from typing import Optional

import torch

from ..binary import training_state_buffers
from ..utils.checkpoint_checks import check_checkpoint
from ..utils.safe_checkpoint_loading import safe_load
from ..deploy.checkpoint import is_packed
from ..models import BiResNet
from ..utils.io import atomic_torch_save


class ConversionError(ValueError):
    """The source cannot be converted; the message names the cause."""


def _unwrap(obj) -> "OrderedDict[str, torch.Tensor]":
    if isinstance(obj, dict) and 'state_dict' in obj and isinstance(obj['state_dict'], dict):
        obj = obj['state_dict']
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor)
                                                       for v in obj.values()):
        raise ConversionError('not a state dict: expected a dict of tensors, or a dict with '
                              'a "state_dict" entry')
    return OrderedDict((k[len('module.'):] if k.startswith('module.') else k, v)
                       for k, v in obj.items())


def detect_layout(state: dict) -> str:
    if any(k.startswith('backbone.') for k in state):
        return 'detector'
    if any(re.fullmatch(r'layer1\.0\.binary_conv\.weight', k) for k in state):
        return 'released'
    first = next(iter(state))
    raise ConversionError(f'unrecognised layout (first key {first!r}): expected the released '
                          'RBONN/ReActNet ResNet keys (layer1.0.binary_conv.weight, ...) or a '
                          'detector checkpoint with backbone.* keys')


def detect_depth(state: dict) -> int:
    blocks = []
    for s in range(1, 5):
        idx = {int(m.group(1)) for k in state
               for m in [re.match(rf'layer{s}\.(\d+)\.', k)] if m}
        blocks.append(max(idx) + 1 if idx else 0)
    for depth, arch in BiResNet.arch_settings.items():
        if tuple(blocks) == arch:
            return depth
    raise ConversionError(f'blocks per stage {tuple(blocks)} match no BiResNet depth '
                          f'({BiResNet.arch_settings})')


def convert_state_dict(source, depth: Optional[int] = None):
    """Map a checkpoint (file contents) onto BiResNet(depth)'s state dict.

    Returns:
        tuple: (state_dict, report) with report = dict(layout, depth, converted,
        dropped, missing) (key lists).

    Raises:
        ConversionError: unrecognised layout, depth mismatch or a shape mismatch
            (naming the first offending key).
    """
    state = _unwrap(source)
    layout = detect_layout(state)
    if layout == 'detector':
        state = OrderedDict((k[len('backbone.'):], v) for k, v in state.items()
                            if k.startswith('backbone.'))
    found = detect_depth(state)
    if depth is not None and depth != found:
        raise ConversionError(f'the checkpoint is a ResNet-{found} (blocks per stage '
                              f'{BiResNet.arch_settings[found]}), not ResNet-{depth}; use a '
                              f'depth={found} backbone or the matching checkpoint')
    backbone = BiResNet(depth=found)
    training_state = {name for name, _ in training_state_buffers(backbone)}
    target = {k: v for k, v in backbone.state_dict().items() if k not in training_state}
    out, dropped = OrderedDict(), []
    for key, value in state.items():
        new = re.sub(r'binary_conv\.scale_factor$', 'binary_conv.scale', key)
        if new in training_state:
            dropped.append(key)  # training state starts empty
            continue
        if new not in target:
            dropped.append(key)
            continue
        if tuple(value.shape) != tuple(target[new].shape):
            raise ConversionError(f'shape mismatch at {key!r}: checkpoint {tuple(value.shape)}, '
                                  f'BiResNet-{found} expects {tuple(target[new].shape)}')
        out[new] = value
    missing = [k for k in target if k not in out]
    report = dict(layout=layout, depth=found, converted=list(out), dropped=dropped,
                  missing=missing)
    return out, report


def convert_file(src: str, dst: str, depth: Optional[int] = None) -> dict:
    """Convert SRC into a backbone checkpoint at DST (written atomically)."""
    try:
        check_checkpoint(src)  # missing, not a torch file, truncated, unsafe: one clear line
    except (FileNotFoundError, ValueError) as e:
        raise ConversionError(str(e)) from None
    try:
        # the released checkpoint is a plain dict of tensors: the safe loader suffices
        source = safe_load(src, map_location='cpu')
    except Exception as e:  # truncated / not a torch file / unsafe content
        raise ConversionError(f'cannot read {src!r} as a torch checkpoint '
                              f'({type(e).__name__}: {str(e).splitlines()[0][:200]})') from e
    if is_packed(source):
        raise ConversionError(
            f'{src!r} is a packed inference checkpoint (tools/deploy/pack.py): it holds the '
            'sign bits and output scales, not the latent weights, scales s and u that training '
            'starts from; convert the training checkpoint it was packed from '
            '(work_dirs/<config>/epoch_N.pth)')
    state, report = convert_state_dict(source, depth)
    atomic_torch_save(dict(state_dict=state, meta=dict(
        source=os.path.basename(src), layout=report['layout'],
        backbone=f'BiResNet(depth={report["depth"]})')), dst)
    return report
