"""1-bit inference: the bit codec, the packed conv, packed checkpoints and the
XNOR-popcount CPU kernel (bitconv). Whole-detector packing and loading:
:mod:`rbonn_det.apis`."""
from .bits import pack_bits, unpack_bits
from .checkpoint import (PACK_FORMAT, PackedCheckpointError, is_packed, load_packed,
                         pack_state_dict, peek_is_packed, read_packed, size_report)
from .packed_conv import PackedBinaryConv2d

__all__ = ['pack_bits', 'unpack_bits', 'PACK_FORMAT', 'PackedCheckpointError', 'is_packed',
           'load_packed', 'pack_state_dict', 'peek_is_packed', 'read_packed', 'size_report',
           'PackedBinaryConv2d']
