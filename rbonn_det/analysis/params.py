"""Binary vs real parameter counts of a model, per top-level part."""
import math
from collections import OrderedDict

from torch import nn

from ..binary import binary_layers, training_only_parameter_ids


def _weight_numel(layer: nn.Module) -> int:
    """Binary weights of a 1-bit layer (packed layers keep only the shape)."""
    return math.prod(getattr(layer, 'weight_shape', None) or layer.weight.shape)


def count_parameters(model: nn.Module, inference: bool = False) -> "OrderedDict[str, dict]":
    """Per top-level child (backbone, neck, heads): binary weights (of 1-bit
    layers, stored at 1 bit) and real parameters (stored at 32 bits).

    Args:
        inference (bool): count what inference stores: per 1-bit layer its binary
            weights, one scale per output channel and the bias (not the latent
            scale s or u it trained with, which the packed file replaces by those
            scales), and no parameter a layer declares training-only. Then a
            trained and a packed model count the same. Else: every parameter
            (the 1-bit layers' latent weights as binary, their s and u as real).

    Returns:
        OrderedDict: part -> dict(binary=int, real=int, bits=int, fp32_bits=int).
    """
    parts = OrderedDict()
    for part, child in model.named_children():
        layers = list(binary_layers(child).values())
        binary = sum(_weight_numel(m) for m in layers)
        if inference:
            skip = training_only_parameter_ids(child) | {
                id(p) for m in layers for n, p in m.named_parameters(recurse=False) if n != 'bias'}
            real = sum(m.out_channels for m in layers)  # the stored per-channel scales
        else:
            skip, real = {id(m.weight) for m in layers}, 0
        real += sum(p.numel() for p in child.parameters() if id(p) not in skip)
        if binary or real:
            parts[part] = dict(binary=binary, real=real, bits=binary + 32 * real,
                               fp32_bits=32 * (binary + real))
    return parts
