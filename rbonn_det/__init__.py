"""rbonn_det: RBONN 1-bit detectors for MMDetection 3.x.

Importing the package registers everything (layers, models, optimizer wrappers,
hooks) so configs need only ``custom_imports = dict(imports=['rbonn_det'])``.
"""
from .version import __version__
from . import utils  # noqa: F401  (safe torch.load of MMEngine checkpoints)
from . import binary, classification, engine, models  # noqa: F401,E402  (registration)

__all__ = ['__version__']
