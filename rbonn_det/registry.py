"""Registration: every rbonn_det module in MMEngine's / mmdet's registries, and
safe loading of MMEngine checkpoints (rbonn_det/utils/safe_checkpoint_loading.py).

Configs reach it with ``custom_imports = dict(imports=['rbonn_det.registry'])``
(the base configs carry it): importing this module registers everything. Code
calls :func:`register_all_modules` (mmdet's pattern); the tools do. ``import
rbonn_det`` and ``import rbonn_det.binary`` register nothing and need only torch.
"""
from .utils import prerequisites, safe_checkpoint_loading


def register_all_modules() -> None:
    """Check mmcv (installed, in range, compiled ops loading with this torch: one
    :class:`~rbonn_det.utils.prerequisites.PrerequisiteError` naming the fix); import the
    modules that register themselves; install safe checkpoint loading. Idempotent."""
    prerequisites.check_prerequisites()  # before mmdet imports mmcv.ops with its own errors
    from . import classification, engine, models  # noqa: F401  (registration on import)
    from .datasets import voc_style  # noqa: F401
    safe_checkpoint_loading.install()


register_all_modules()
