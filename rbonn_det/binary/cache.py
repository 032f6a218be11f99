"""Per-process caches of constant tensors that stay out of torch.compile graphs."""
from typing import Callable, Hashable

from ..utils.torch_compat import is_compiling, is_tracing


def cached_constant(cache: dict, key: Hashable, make: Callable):
    """``cache[key]``, made once by ``make()``. Traced by torch.compile, ``make()`` runs
    in the graph and the cache is not touched: a graph that reads or fills a dict is
    guarded on its contents and compiles again when they change. Traced by
    ``torch.jit.trace`` likewise: a tensor made in one trace and cached is a dangling
    value in the next (``RuntimeError: unordered_map::at``)."""
    if is_compiling() or is_tracing():
        return make()
    if key not in cache:
        cache[key] = make()
    return cache[key]
