"""What the command-line tools share: flags and config loading (common), CPU
distributed start and orderly exit, and the start-up checks that stop a tool with
one line before anything is written (config, data, 1-bit options, --cfg-options
keys, checkpoints, how the backbone starts)."""
from ..utils.checkpoint_checks import check_checkpoint
from .config_checks import check_config

__all__ = ['check_checkpoint', 'check_config']
