"""Safe checkpoint loading for MMEngine 0.10.7 under torch >= 2.6.

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

A checkpoint written by MMEngine without this package imported still contains
``getattr`` and is refused: re-save it after loading it with ``weights_only=False``
if (and only if) you trust its source; see docs/checkpoints.md.
"""
import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer

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


def install() -> None:
    """Idempotent: allow-list the globals and patch HistoryBuffer pickling."""
    HistoryBuffer.__getstate__ = _history_buffer_getstate
    torch.serialization.add_safe_globals([HistoryBuffer, *_numpy_safe_globals()])
