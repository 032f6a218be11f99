from . import safe_checkpoint_loading  # noqa: F401  (installs on import)
from .config_checks import check_checkpoint, check_config

__all__ = ['check_config', 'check_checkpoint']
