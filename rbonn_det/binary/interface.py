"""What makes a layer 1-bit, in one place: every tool and mixin walks models
through these functions instead of testing classes itself.

A layer is 1-bit when its ``weight_quantizer`` declares ``precision == 1``
(trainable :class:`BinaryConv2d` convs, packed and bit-kernel inference convs
alike); its input is binary when its ``input_quantizer`` does too. Layers
declare the state only training needs on their class: ``training_only_parameters``
(RBOConv's ``u``) and ``training_state_buffers`` (RBOConv's ``prev_grad``).
"""
from collections import OrderedDict
from typing import List, Set, Tuple

import torch
from torch import nn

from .conv import RBOConv


def _precision(quantizer) -> int:
    return getattr(quantizer, 'precision', 32)


def is_binary_layer(module: nn.Module) -> bool:
    """Whether ``module`` stores 1-bit weights."""
    return _precision(getattr(module, 'weight_quantizer', None)) == 1


def has_binary_input(layer: nn.Module) -> bool:
    """Whether a 1-bit layer binarizes its input too (else: weights-only)."""
    return _precision(getattr(layer, 'input_quantizer', None)) == 1


def binary_layers(model: nn.Module) -> "OrderedDict[str, nn.Module]":
    """Name -> module of every 1-bit layer of ``model``, in module order."""
    return OrderedDict((name, m) for name, m in model.named_modules() if is_binary_layer(m))


def rbo_layers(model: nn.Module) -> "OrderedDict[str, RBOConv]":
    """Name -> layer of every layer that runs RBO's recurrent step (the optimizer
    wrapper feeds them, the stats hook reads them, the constructor groups their u)."""
    return OrderedDict((name, m) for name, m in model.named_modules() if isinstance(m, RBOConv))


def training_state_buffers(model: nn.Module) -> List[Tuple[str, torch.Tensor]]:
    """(qualified name, buffer) of every buffer a layer declares as training state."""
    return [(f'{name}.{b}' if name else b, getattr(m, b)) for name, m in model.named_modules()
            for b in getattr(m, 'training_state_buffers', ())]


def training_only_parameter_ids(model: nn.Module) -> Set[int]:
    """ids of the parameters inference does not need (declared per layer class)."""
    return {id(getattr(m, p)) for m in model.modules()
            for p in getattr(m, 'training_only_parameters', ())}
