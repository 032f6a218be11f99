from .binary_rpn_head import BinaryRPNHead

__all__ = ['BinaryRPNHead']
