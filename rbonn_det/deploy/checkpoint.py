"""Packed 1-bit checkpoints: 1 bit per binary weight, fp32 for everything else.

An evaluation-mode 1-bit conv computes ``conv(q(x), W_b)`` with
``W_b = scale[c] * sign(W)`` per output channel c (RBOConv: scale = alpha*beta;
Bi-Real/ReAct/XNOR: mean|W|; BinaryConv: 1). Packing stores exactly that:

- ``<conv>.weight_bits``: sign(W_b) >= 0 as bits, 8 per uint8 (MSB first,
  row-major over (Co, Ci/g, kh, kw), zero-padded to a whole byte);
- ``<conv>.weight_scale``: the Co per-channel magnitudes (fp32);
- ``<conv>.bias`` if the conv has one.

The latent weight, RBO's ``scale``/``u`` and the ``prev_grad`` buffer are not
stored (eval needs none of them); nor are BatchNorm's ``num_batches_tracked``
counters. All other parameters and buffers are stored as they are (fp32).
Unpacking rebuilds ``W_b`` bit for bit, so a packed detector's outputs equal the
training checkpoint's exactly.
"""
import math
import os
from collections import OrderedDict
from typing import Dict, List, Optional

import torch
from torch import nn

from ..utils.torch_compat import set_submodule
from ..binary import BinaryConv2d, binary_layers
from .bits import pack_bits, unpack_bits  # noqa: F401  (unpack_bits: part of the format)
from .packed_conv import PackedBinaryConv2d, _signed

PACK_FORMAT = 'rbonn_det.packed.v1'


class PackedCheckpointError(ValueError):
    """A packed checkpoint cannot be written or does not fit the model."""


@torch.no_grad()
def pack_conv(conv: BinaryConv2d) -> Dict[str, torch.Tensor]:
    """``weight_bits`` and ``weight_scale`` of one 1-bit conv's evaluation weight.

    Raises:
        PackedCheckpointError: the conv's binary weight is not scale[c] * {-1, +1}.
    """
    was_training = conv.training
    conv.eval()
    try:
        w_b = conv.binary_weight().detach().float().cpu()
    finally:
        conv.train(was_training)
    scale = w_b.abs().amax(dim=(1, 2, 3))
    bits = w_b >= 0
    if not torch.equal(_signed(bits, scale, w_b.shape), w_b):
        raise PackedCheckpointError(
            f'{type(conv).__name__}: the binary weight is not one magnitude per output '
            'channel times a sign, so it cannot be stored at 1 bit')
    return dict(weight_bits=pack_bits(bits), weight_scale=scale)


def pack_state_dict(model: nn.Module) -> dict:
    """The packed checkpoint of ``model``: ``{'meta': ..., 'state_dict': ...}``.

    ``meta['layers']`` lists each 1-bit conv's name, type and weight shape, so a
    loader can tell whether a config builds the same network.
    """
    binary = binary_layers(model)
    state = OrderedDict()
    layers = OrderedDict()
    dropped = set()
    for name, conv in binary.items():
        if isinstance(conv, PackedBinaryConv2d):
            raise PackedCheckpointError(f'{name} is already packed')
        prefix = name + '.' if name else ''
        dropped.update(prefix + key for key, _ in
                       list(conv.named_parameters(recurse=False)) +
                       list(conv.named_buffers(recurse=False)))
        for key, value in pack_conv(conv).items():
            state[prefix + key] = value
        if conv.bias is not None:
            state[prefix + 'bias'] = conv.bias.detach().cpu().clone()
        layers[name] = dict(type=type(conv).__name__, shape=list(conv.weight.shape),
                            input_quantizer=type(conv.input_quantizer).__name__)
    for key, value in model.state_dict().items():
        if key in dropped or key in state or key.endswith('num_batches_tracked'):
            continue
        state[key] = value.detach().cpu().clone()
    return dict(meta=dict(format=PACK_FORMAT, layers=layers), state_dict=state)


def size_report(packed: dict) -> dict:
    """Counts and the theoretical size (bits) of a packed checkpoint:
    32 bits per real value, 1 bit per binary weight, 32 bits per scale."""
    layers = packed['meta']['layers']
    binary = sum(math.prod(layer['shape']) for layer in layers.values())
    scales = sum(layer['shape'][0] for layer in layers.values())
    packed_keys = {f'{n}.{k}' if n else k for n in layers
                   for k in ('weight_bits', 'weight_scale')}
    real = sum(v.numel() for k, v in packed['state_dict'].items() if k not in packed_keys)
    return dict(binary_weights=binary, scales=scales, real_values=real, layers=len(layers),
                theoretical_bits=32 * real + binary + 32 * scales,
                fp32_bits=32 * (real + binary + scales))


def read_packed(path: str) -> dict:
    """Load a packed checkpoint (torch's safe loader: tensors, dicts, strings only).

    Raises:
        PackedCheckpointError: the file is missing, unreadable or not packed.
    """
    if not os.path.isfile(path):
        raise PackedCheckpointError(f'{path!r} does not exist')
    try:
        packed = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as e:
        raise PackedCheckpointError(
            f'cannot read {path!r} as a torch file ({type(e).__name__}: '
            f'{str(e).splitlines()[0][:200]})') from e
    if not is_packed(packed):
        raise PackedCheckpointError(
            f'{path!r} is not a packed checkpoint (no meta.format == {PACK_FORMAT!r}); '
            'write one with tools/deploy/pack.py CONFIG CHECKPOINT OUT, or load a training '
            'checkpoint the usual way')
    return packed


def is_packed(obj) -> bool:
    return (isinstance(obj, dict) and isinstance(obj.get('meta'), dict)
            and obj['meta'].get('format') == PACK_FORMAT)


def _weight_shape(conv: nn.Module) -> list:
    return list(getattr(conv, 'weight_shape', None) or conv.weight.shape)


def _layer_mismatch(model_layers: dict, file_layers: dict) -> Optional[str]:
    only_file = [n for n in file_layers if n not in model_layers]
    only_model = [n for n in model_layers if n not in file_layers]
    shapes = [f'{n}: file {file_layers[n]["shape"]} vs config {_weight_shape(m)}'
              for n, m in model_layers.items()
              if n in file_layers and _weight_shape(m) != list(file_layers[n]['shape'])]
    inputs = [f'{n}: file {file_layers[n]["input_quantizer"]} vs config '
              f'{type(m.input_quantizer).__name__}' for n, m in model_layers.items()
              if n in file_layers and file_layers[n].get('input_quantizer') not in
              (None, type(m.input_quantizer).__name__)]
    return _listing((('1-bit layers in the file but not in the config', only_file),
                     ('1-bit layers in the config but not in the file', only_model),
                     ('1-bit layers whose weight shape differs', shapes),
                     ('1-bit layers whose input binarization differs', inputs))) or None


def _listing(groups) -> str:
    """'what: [first 5] ... (N in all); ...' for the non-empty groups."""
    return '; '.join(f'{what}: {names[:5]}' + (f' ... ({len(names)} in all)'
                                                if len(names) > 5 else '')
                     for what, names in groups if names)


def load_packed(model: nn.Module, packed: dict) -> nn.Module:
    """Swap ``model``'s 1-bit convs for :class:`PackedBinaryConv2d` and load
    ``packed`` into it; returns the model in eval mode (modified in place).

    Raises:
        PackedCheckpointError: the model's 1-bit layers, tensor names or shapes
            differ from the file's (the config is not the one it was packed from).
    """
    fix = ('the config must build the network the file was packed from: pass that '
           'config (or re-pack the checkpoint with this config)')
    layers = binary_layers(model)
    problem = _layer_mismatch(layers, packed['meta']['layers'])
    if problem:
        raise PackedCheckpointError(f'{problem}; {fix}')
    for name, conv in layers.items():
        if not isinstance(conv, PackedBinaryConv2d):
            set_submodule(model, name, PackedBinaryConv2d(conv))
    state = packed['state_dict']
    expected = model.state_dict()
    missing = [k for k in expected if k not in state and not k.endswith('num_batches_tracked')]
    unexpected = [k for k in state if k not in expected]
    shapes = [f'{k}: file {list(state[k].shape)} vs config {list(expected[k].shape)}'
              for k in state if k in expected and state[k].shape != expected[k].shape]
    problems = _listing((('missing in the file', missing), ('not in the config', unexpected),
                         ('shape differs', shapes)))
    if problems:
        raise PackedCheckpointError(f'{problems}; {fix}')
    model.load_state_dict(state, strict=False)
    return model.eval()


def peek_is_packed(path: str) -> bool:
    """Whether ``path`` is a packed checkpoint (memory-mapped read: cheap)."""
    try:
        return is_packed(torch.load(path, map_location='cpu', weights_only=True, mmap=True))
    except Exception:  # not a torch zip file: certainly not packed
        return False
