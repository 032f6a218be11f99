"""What the mmdeploy tools need installed, checked at start with one line naming the fix."""
import sys

MMDEPLOY_FIX = 'pip install -e .[mmdeploy] (docs/deploy.md: installs mmdeploy without its pins)'


def require_mmdeploy(tool: str, onnxruntime: bool = False) -> None:
    """Exit with ``tool: error: ...`` when mmdeploy (or onnx / onnxruntime) is missing or
    is another version than the rewriters are written for."""
    missing = []
    for name in ('mmdeploy', 'onnx') + (('onnxruntime', ) if onnxruntime else ()):
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        sys.exit(f'{tool}: error: {", ".join(missing)} not installed; {MMDEPLOY_FIX}')
    import mmdeploy
    from ..deploy.mmdeploy_ext import MMDEPLOY_VERSION
    if mmdeploy.__version__ != MMDEPLOY_VERSION:
        sys.exit(f'{tool}: error: mmdeploy {mmdeploy.__version__} is installed; the 1-bit '
                 f'rewriters are written and tested for mmdeploy {MMDEPLOY_VERSION}: '
                 f'{MMDEPLOY_FIX}')
