"""The prerequisites an environment must have before rbonn_det runs, each refused with one
line naming the fix (docs/install.md): mmcv >= 2.0.0, < 2.2.0 with its compiled ops that
load with this torch; ``pkg_resources`` (setuptools < 82), through which mmengine 0.10.x
finds ``mmdet::`` base configs; and, where a run would use the GPU, mmcv's CUDA ops."""
import importlib.metadata
import importlib.util

import torch

MMCV_RANGE = ((2, 0, 0), (2, 2, 0))  # requirements/mminstall.txt; mmdet 3.3.0 asserts < 2.2.0
INSTALL_DOC = 'docs/install.md'
BUILD_HINT = 'python tools/install/build_mmcv.py'


class PrerequisiteError(ImportError):
    """A prerequisite is missing or unusable; the message names the fix."""


def _release(version: str) -> tuple:
    parts = []
    for part in version.split('+')[0].split('.')[:3]:
        digits = ''.join(c for c in part if c.isdigit()) or '0'
        parts.append(int(digits))
    return tuple(parts + [0] * (3 - len(parts)))


def check_prerequisites() -> None:
    """mmcv is installed, in range, and its compiled ops import with this torch;
    ``pkg_resources`` imports.

    Raises:
        PrerequisiteError: with the cause and the fix.
    """
    _check_mmcv()
    # found, not imported: setuptools 80.9+ warn at its import (mmengine imports it later)
    if importlib.util.find_spec('pkg_resources') is None:
        raise PrerequisiteError(
            'pkg_resources is missing (setuptools >= 82 removed it, pypa/setuptools#5007): '
            'mmengine 0.10.x needs it to find `mmdet::` base configs; pip install '
            '"setuptools<82"') from None


def _check_mmcv() -> None:
    try:
        version = importlib.metadata.version('mmcv')
    except importlib.metadata.PackageNotFoundError:
        lite = _installed('mmcv-lite')
        raise PrerequisiteError(
            ('mmcv-lite is installed, which has no compiled ops' if lite else
             'mmcv is not installed') + ': rbonn_det needs mmcv>=2.0.0,<2.2.0 with its '
            f'compiled ops (RoIAlign, NMS): {BUILD_HINT} builds and installs mmcv 2.1.0 for '
            f'torch {torch.__version__} ({INSTALL_DOC})') from None
    lo, hi = MMCV_RANGE
    if not lo <= _release(version) < hi:
        raise PrerequisiteError(
            f'mmcv {version} is installed; mmdet 3.3.0 needs mmcv>=2.0.0,<2.2.0 '
            f'(open-mmlab/mmdetection#12312): install mmcv 2.1.0 ({BUILD_HINT}; {INSTALL_DOC})')
    try:
        import mmcv.ops  # noqa: F401  (loads the compiled extension)
    except ImportError as e:
        reason = str(e).splitlines()[0][:200]
        if "mmcv._ext" in reason:
            cause = (f'mmcv {version} was built without its compiled ops (MMCV_WITH_OPS=1 '
                     'unset, or built in pip\'s isolated build environment without torch: '
                     'open-mmlab/mmcv#3310)')
        else:
            cause = (f'mmcv {version}\'s compiled ops do not load with torch {torch.__version__} '
                     f'({reason}): it was built for another torch')
        raise PrerequisiteError(f'{cause}; rebuild it for this torch: {BUILD_HINT} '
                                f'({INSTALL_DOC})') from None


def check_cuda_ops(uses_cuda: bool = None) -> None:
    """A run that will use the GPU has mmcv's CUDA ops (else the first RoIAlign / NMS on a
    CUDA tensor fails mid-run: "nms_impl: implementation for device cuda:0 not found").

    Args:
        uses_cuda: whether the run uses the GPU; default: a GPU is visible (MMEngine's
            Runner then trains and tests on it).

    Raises:
        PrerequisiteError: mmcv was built without CUDA ops.
    """
    if not (torch.cuda.is_available() if uses_cuda is None else uses_cuda):
        return
    import mmcv
    from mmcv.ops import get_compiling_cuda_version
    try:
        compiled = get_compiling_cuda_version()
    except Exception:  # a stand-in extension without the query (tools/dev): nothing to check
        return
    if compiled == 'not available':
        raise PrerequisiteError(
            f'a GPU is visible but mmcv {mmcv.__version__} was built without CUDA ops '
            '(mmcv.ops.get_compiling_cuda_version(): not available), so RoIAlign / NMS would '
            f'fail at the first step: rebuild it with {BUILD_HINT} --device cuda '
            f'({INSTALL_DOC}), or run on the CPU with CUDA_VISIBLE_DEVICES=')


def _installed(name: str) -> bool:
    try:
        importlib.metadata.version(name)
        return True
    except importlib.metadata.PackageNotFoundError:
        return False
