"""mmdet-side registry entries. ``layers`` registers the 1-bit convs in
MMEngine's root registry; the detector parts register in mmdet's. mmcv is checked
first (one error naming the fix, not mmdet's), as every path into mmdet passes here."""
from ..utils.prerequisites import check_prerequisites

check_prerequisites()
from . import layers  # noqa: F401,E402
from .backbones import BinarySSDVGG, BiResNet  # noqa: E402
from .dense_heads import BinaryRPNHead, PatchedSSDHead  # noqa: E402
from .necks import BinaryFPN  # noqa: E402

__all__ = ['BiResNet', 'BinarySSDVGG', 'BinaryFPN', 'BinaryRPNHead', 'PatchedSSDHead']
