"""PackedBinaryConv2d: the inference-only 1-bit conv a packed checkpoint loads into."""
import math

import torch
from torch import nn

from ..binary import BinaryConv2d, StoredBinaryWeight
from .bits import pack_bits, unpack_bits


def _signed(bits: torch.Tensor, scale: torch.Tensor, shape) -> torch.Tensor:
    sign = torch.where(bits.view(shape), 1.0, -1.0).to(scale.dtype)
    return scale.view(-1, 1, 1, 1) * sign


class PackedBinaryConv2d(nn.Conv2d):
    """Inference-only 1-bit conv loaded from a packed checkpoint.

    Holds the packed signs and per-channel scales as buffers and the unpacked
    ``W_b`` as a non-persistent cache (rebuilt on every state-dict load), so its
    forward is exactly the trained conv's evaluation forward.

    Args:
        conv (BinaryConv2d): the conv it replaces (geometry, bias, input quantizer).
    """

    def __init__(self, conv: BinaryConv2d):
        super().__init__(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                         conv.padding, conv.dilation, conv.groups, conv.bias is not None,
                         conv.padding_mode, device='meta')
        shape = tuple(conv.weight.shape)
        device = conv.weight.device
        del self.weight
        if conv.bias is not None:
            self.bias = nn.Parameter(torch.zeros(conv.out_channels, device=device),
                                     requires_grad=False)
        self.weight_shape = shape
        self.source_type = type(conv).__name__
        self.input_quantizer = conv.input_quantizer
        self.weight_quantizer = StoredBinaryWeight()  # a 1-bit layer (binary.interface)
        self.register_buffer('weight_bits', pack_bits(torch.ones(shape, dtype=torch.bool))
                             .to(device))
        # a parameter (frozen): the per-channel scales are inference parameters
        self.weight_scale = nn.Parameter(torch.ones(shape[0], device=device), requires_grad=False)
        self.register_buffer('weight', torch.zeros(shape, device=device), persistent=False)
        self.unpack()

    @torch.no_grad()
    def unpack(self) -> None:
        """Rebuild the cached ``W_b`` from ``weight_bits`` and ``weight_scale``."""
        bits = unpack_bits(self.weight_bits, math.prod(self.weight_shape))
        self.weight = _signed(bits, self.weight_scale, self.weight_shape).to(
            self.weight_scale.device)

    @torch.no_grad()
    def signs_and_scale(self):
        """``W_b`` as its two factors: the +-1 signs (weight shape) and the per-channel
        magnitude (Co,), ``W_b = scale * signs`` (what the bit kernel and the ONNX
        export compute with)."""
        return (torch.where(self.weight < 0, -1.0, 1.0).to(self.weight.dtype),
                self.weight.abs().amax(dim=(1, 2, 3)))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self.unpack()

    def forward(self, x):
        return self._conv_forward(self.input_quantizer(x), self.weight, self.bias)

    def extra_repr(self):
        return super().extra_repr() + f', packed from {self.source_type}'
