from . import safe_checkpoint_loading  # noqa: F401  (installs on import)
from .checkpoint_checks import check_checkpoint
from .config_checks import check_config

__all__ = ['check_config', 'check_checkpoint']
