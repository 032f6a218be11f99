"""Safe checkpoint loading for MMEngine 0.10.x under torch >= 2.6 (and the same
safety on the older torch releases we support).

Why: since torch 2.6 ``torch.load`` defaults to ``weights_only=True``, which only
unpickles tensors, containers and allow-listed globals. MMEngine 0.10.7 calls
``torch.load`` without ``weights_only``, and its checkpoints hold a MessageHub
whose ``HistoryBuffer`` objects carry numpy arrays and, through
``HistoryBuffer.__getstate__``, the class's statistics functions (pickled as
``getattr(HistoryBuffer, 'min')``). So ``load_checkpoint``, ``load_from`` and
``Runner(resume=True)`` all fail with "Weights only load failed" on a file
MMEngine has just written.

Fix, by :func:`install` (called by :func:`rbonn_det.registry.register_all_modules`,
so by every tool and every config that imports ``rbonn_det.registry``), keeping
torch's safe loader:
1. allow-list ``HistoryBuffer`` and the numpy globals an array needs
   (``_reconstruct``, ``ndarray``, ``dtype``, dtype classes, ``scalar``);
2. save ``HistoryBuffer`` without its default statistics functions (they are
   re-created by its ``__setstate__`` anyway), so no ``getattr`` is pickled.
   Allow-listing ``builtins.getattr`` instead would let a crafted file reach any
   attribute of an allowed object, which defeats the safe loader.

torch < 2.5 cannot take extra allowed globals (``add_safe_globals`` with both
spellings of a numpy global): there :func:`safe_load` checks the file's globals
against torch's own allow list plus ours without unpickling (the opcodes alone), and
then loads it; a file naming any other global is refused the same way.

A checkpoint written by MMEngine without this package imported still contains
``getattr`` and is refused: re-save it after loading it with ``weights_only=False``
if (and only if) you trust its source; see docs/checkpoints.md.
"""
import pickle
import zipfile

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer

from .torch_compat import can_allow_list_globals, pickled_globals

_DEFAULT_STATISTICS = ('min', 'max', 'current', 'mean')


def _history_buffer_getstate(self) -> dict:
    state = dict(self.__dict__)
    state.pop('statistics_methods', None)
    custom = {k: v for k, v in self._statistics_methods.items() if k not in _DEFAULT_STATISTICS}
    if custom:  # user-registered statistics: pickled as before (needs trust to load)
        state['statistics_methods'] = custom
    return state


def _numpy_safe_globals() -> list:
    try:  # numpy 2.x
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import _reconstruct, scalar
    dtype_classes = [type(np.dtype(t)) for t in
                     (np.float64, np.float32, np.float16, np.int64, np.int32, np.int16,
                      np.int8, np.uint8, np.bool_)]
    # both module spellings: files written under numpy 1.x name numpy.core.*
    return [_reconstruct, (_reconstruct, 'numpy.core.multiarray._reconstruct'), scalar,
            (scalar, 'numpy.core.multiarray.scalar'), np.ndarray, np.dtype, *dtype_classes]


# allowed by the weights-only unpickler of newer torch by default, not by torch 2.1's; in
# MMEngine checkpoints: bytes of protocol-2 numpy pickles, the message hub's Counter
_NEWER_TORCH_DEFAULTS = {'_codecs.encode', 'collections.Counter'}


def _global_name(entry) -> str:
    obj, name = entry if isinstance(entry, tuple) else (entry, None)
    return name or f'{obj.__module__}.{obj.__qualname__}'


def _allowed_globals() -> list:
    return [HistoryBuffer, *_numpy_safe_globals()]


def install() -> None:
    """Idempotent: allow-list the globals (torch 2.5+) and patch HistoryBuffer pickling."""
    HistoryBuffer.__getstate__ = _history_buffer_getstate
    if can_allow_list_globals():
        torch.serialization.add_safe_globals(_allowed_globals())


def unsafe_globals(path: str) -> list:
    """The globals of a torch zip checkpoint that the safe loader (with our allow
    list) refuses; read without unpickling."""
    install()
    if can_allow_list_globals():
        return torch.serialization.get_unsafe_globals_in_checkpoint(path)
    from torch._weights_only_unpickler import _get_allowed_globals
    allowed = (set(_get_allowed_globals()) | {_global_name(g) for g in _allowed_globals()}
               | _NEWER_TORCH_DEFAULTS)
    return [g for g in pickled_globals(path) if g not in allowed]


def safe_load(path: str, **kwargs):
    """``torch.load(path, weights_only=True, **kwargs)`` with MMEngine's checkpoint
    globals allowed, on every supported torch.

    Raises:
        pickle.UnpicklingError: the file names a global outside the allow lists.
    """
    install()
    if can_allow_list_globals():
        return torch.load(path, weights_only=True, **kwargs)
    if zipfile.is_zipfile(path):
        unsafe = unsafe_globals(path)
        if unsafe:
            raise pickle.UnpicklingError(
                f'{path}: weights-only load refused: it names {", ".join(unsafe)}, which '
                'the safe loader does not allow')
        # every global it names is on an allow list: as safe as weights_only=True
        return torch.load(path, weights_only=False, **kwargs)
    return torch.load(path, weights_only=True, **kwargs)  # legacy format: torch's own check
