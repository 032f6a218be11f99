"""rbonn_det: RBONN 1-bit detectors for MMDetection 3.x.

``import rbonn_det`` has no side effects. Registration with MMEngine / mmdet:
``rbonn_det.registry`` (configs: ``custom_imports=dict(imports=['rbonn_det.registry'])``).
The method itself, pure PyTorch: ``rbonn_det.binary``.
"""
from .version import __version__

__all__ = ['__version__']
