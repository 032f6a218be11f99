"""Per-process caches of constant tensors that stay out of torch.compile graphs."""
from typing import Callable, Hashable

from ..utils.torch_compat import is_compiling


def cached_constant(cache: dict, key: Hashable, make: Callable):
    """``cache[key]``, made once by ``make()``. Traced by torch.compile, ``make()`` runs
    in the graph and the cache is not touched: a graph that reads or fills a dict is
    guarded on its contents and compiles again when they change."""
    if is_compiling():
        return make()
    if key not in cache:
        cache[key] = make()
    return cache[key]
