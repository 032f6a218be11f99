"""What the command-line tools share: flags and config loading (common), CPU
distributed start and orderly exit, and the start-up checks that stop a tool with
one line before anything is written (config, data, 1-bit options, --cfg-options
keys, checkpoints, how the backbone starts)."""
import warnings

# mmengine 0.10.x imports pkg_resources to find `mmdet::` base configs; setuptools 80.9 - 81
# warn about that at each tool run (82 removed it: requirements/runtime.txt keeps < 82)
warnings.filterwarnings('ignore', message='pkg_resources is deprecated', category=UserWarning)
# torch 2.1's own torch.load warns that TypedStorage is deprecated at every load
warnings.filterwarnings('ignore', message='TypedStorage is deprecated', category=UserWarning)

from ..utils.checkpoint_checks import check_checkpoint  # noqa: E402
from .config_checks import check_config  # noqa: E402

__all__ = ['check_checkpoint', 'check_config']
