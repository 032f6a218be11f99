"""mmdet-side registry entries. ``layers`` registers the 1-bit convs in
MMEngine's root registry; the detector parts register in mmdet's."""
from . import layers  # noqa: F401
from .backbones import BinarySSDVGG, BiResNet
from .dense_heads import BinaryRPNHead, PatchedSSDHead
from .necks import BinaryFPN

__all__ = ['BiResNet', 'BinarySSDVGG', 'BinaryFPN', 'BinaryRPNHead', 'PatchedSSDHead']
