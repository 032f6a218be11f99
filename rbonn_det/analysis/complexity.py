"""Operation counts of a model measured by forward hooks (paper-style OPs).

Conventions of the BNN papers (Bi-Real Net, ReActNet, RBONN):

- FLOPs: multiply-accumulates of real-valued conv and linear layers;
- BOPs: multiply-accumulates of 1-bit convs (binary input x binary weight),
  executed as XNOR + popcount, 64 per 64-bit word;
- OPs = BOPs / 64 + FLOPs.

Counts come from the shapes seen at run time (hooks on the real modules): a
layer run several times (a shared head over FPN levels, an RoI head over N
proposals) is counted every time. BatchNorm, activations, pooling, RoIAlign, NMS
and the per-channel rescaling of 1-bit outputs are not counted (the papers'
convention). A 1-bit conv with real inputs (weights-only) counts as FLOPs.
"""
from collections import OrderedDict
from typing import Callable

import torch
from torch import nn

from ..binary import has_binary_input, is_binary_layer
from .params import count_parameters


def _is_binary(module: nn.Module) -> bool:
    """A 1-bit layer with binary inputs: XNOR + popcount (BOPs)."""
    return is_binary_layer(module) and has_binary_input(module)


def _macs(module: nn.Module, output: torch.Tensor) -> int:
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        return output.numel() * (module.in_channels // module.groups) * kh * kw
    return output.numel() * module.in_features  # nn.Linear


def count_operations(model: nn.Module, run: Callable[[], object]) -> "OrderedDict[str, dict]":
    """Run ``run()`` (a forward of ``model``) with hooks on every conv / linear
    layer and return per-layer counts.

    Returns:
        OrderedDict: layer name -> dict(flops=int, bops=int, calls=int), in the
        order the layers first ran.
    """
    counts = OrderedDict()
    handles = []

    def hook(name):
        def record(module, inputs, output):
            entry = counts.setdefault(name, dict(flops=0, bops=0, calls=0))
            entry['bops' if _is_binary(module) else 'flops'] += _macs(module, output)
            entry['calls'] += 1
        return record

    for name, module in model.named_modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            handles.append(module.register_forward_hook(hook(name)))
    try:
        with torch.no_grad():
            run()
    finally:
        for h in handles:
            h.remove()
    return counts


def complexity_by_part(model: nn.Module, run: Callable[[], object]) -> "OrderedDict[str, dict]":
    """Per top-level part (backbone, neck, heads): FLOPs, BOPs, OPs and the
    inference parameter memory (1-bit weights at 1 bit, the rest at 32 bits),
    with the same figures for the real-valued twin (every 1-bit conv real).

    Returns:
        OrderedDict: part -> dict(flops, bops, ops, bits, real_flops, real_ops,
        real_bits); the last entry is ``'total'``.
    """
    ops = count_operations(model, run)
    params = count_parameters(model, inference=True)
    parts = OrderedDict()
    names = list(params) + [n.split('.')[0] for n in ops if n.split('.')[0] not in params]
    for part in dict.fromkeys(names):
        flops = sum(c['flops'] for n, c in ops.items() if n.split('.')[0] == part)
        bops = sum(c['bops'] for n, c in ops.items() if n.split('.')[0] == part)
        p = params.get(part, dict(bits=0, fp32_bits=0))
        parts[part] = _entry(flops, bops, p['bits'], p['fp32_bits'])
    total = [sum(e[k] for e in parts.values()) for k in ('flops', 'bops', 'bits', 'real_bits')]
    parts['total'] = _entry(*total)
    return parts


def _entry(flops, bops, bits, real_bits):
    return dict(flops=flops, bops=bops, ops=bops / 64 + flops, bits=bits,
                real_flops=flops + bops, real_ops=flops + bops, real_bits=real_bits)
