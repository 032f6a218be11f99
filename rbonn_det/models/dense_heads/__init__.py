from .binary_rpn_head import BinaryRPNHead
from .patched_ssd_head import PatchedSSDHead

__all__ = ['BinaryRPNHead', 'PatchedSSDHead']
