"""Deployment: packed 1-bit checkpoints, parameter / operation accounting."""
from .detector import build_detector, init_packed_detector, load_packed_into, pack_checkpoint
from .pack import (PACK_FORMAT, PackedBinaryConv2d, PackedCheckpointError, load_packed,
                   pack_state_dict, peek_is_packed, read_packed, size_report)
from .params import count_parameters, format_parameter_table

__all__ = ['count_parameters', 'format_parameter_table', 'PACK_FORMAT', 'PackedBinaryConv2d',
           'PackedCheckpointError', 'load_packed', 'pack_state_dict', 'peek_is_packed',
           'read_packed', 'size_report', 'build_detector', 'init_packed_detector',
           'load_packed_into', 'pack_checkpoint']
