from .binary_fpn import BinaryFPN

__all__ = ['BinaryFPN']
