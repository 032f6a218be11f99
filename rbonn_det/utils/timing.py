"""What the benchmark tools share: the timing flags and alternated timing.

Every benchmark runs its variants in rounds, one call of each per round, so the
variants share the machine's noise; the ratios they print are medians of the
per-round times measured in the same run.
"""
import argparse
import statistics
import time
from typing import Callable, Dict, Hashable, List

import torch


def add_timing_args(parser: argparse.ArgumentParser, steps: int = 20, warmup: int = 3) -> None:
    """``--steps``, ``--warmup`` and ``--threads`` (applied by :func:`apply_threads`)."""
    parser.add_argument('--steps', type=int, default=steps, help='timed rounds')
    parser.add_argument('--warmup', type=int, default=warmup, help='untimed first rounds')
    parser.add_argument('--threads', type=int,
                        help='torch CPU threads (default: all; the bit kernel is '
                             'single-threaded)')


def apply_threads(args: argparse.Namespace) -> None:
    if args.threads:
        torch.set_num_threads(args.threads)


def alternated_times(runs: Dict[Hashable, Callable[[], object]], steps: int, warmup: int,
                     sync: Callable[[], None] = lambda: None,
                     calls_per_round: int = 1) -> Dict[Hashable, List[float]]:
    """Seconds per call of each run, over ``steps`` rounds after ``warmup``.

    Args:
        runs: name -> callable; each round calls every one in order, ``calls_per_round``
            times in a row, and times the last of those calls (with more than one,
            each run is timed in the cache and allocator state it leaves itself,
            not the one the previous run left).
        sync: called around each call (``torch.cuda.synchronize`` on a GPU).
    """
    times = {name: [] for name in runs}
    for i in range(warmup + steps):
        for name, fn in runs.items():
            for _ in range(calls_per_round - 1):
                fn()
            sync()
            t0 = time.perf_counter()
            fn()
            sync()
            if i >= warmup:
                times[name].append(time.perf_counter() - t0)
    return times


def median(ts: List[float]) -> float:
    return statistics.median(ts)
