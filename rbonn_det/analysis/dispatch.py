"""Counting the aten operations a piece of code dispatches.

At the layer sizes of a 1-bit detector a GPU training step is bound by how many
operations it launches, not by arithmetic; the count is a machine-independent
proxy for that cost, measurable on a CPU (tools/analysis/benchmark_rbo.py).
"""
from collections import Counter
from typing import Callable

from torch.utils._python_dispatch import TorchDispatchMode


class _CountOps(TorchDispatchMode):

    def __init__(self):
        super().__init__()
        self.counts = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.counts[func.overloadpacket.__name__] += 1
        return func(*args, **(kwargs or {}))


def count_dispatched_ops(run: Callable[[], object]) -> Counter:
    """Run ``run()`` and return how many times each aten operation was dispatched
    (forward, backward and optimizer alike; views and in-place ops included)."""
    with _CountOps() as mode:
        run()
    return mode.counts
