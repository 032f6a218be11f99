"""What the benchmark tools share: the timing flags and alternated timing.

Every benchmark runs its variants in rounds, one call of each per round, so the
variants share the machine's noise; the ratios they print are medians of the
per-round times measured in the same run.
"""
import argparse
import math
import statistics
import time
from typing import Callable, Dict, Hashable, List, Tuple

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


def paired_ratio(numerator: List[float], denominator: List[float],
                 confidence: float = 0.95) -> Tuple[float, float, float]:
    """The median of the per-round ratios of two alternated runs, and a
    distribution-free confidence interval for it.

    Rounds alternate the runs, so a round's two times share the machine's state;
    their ratio cancels the slow drifts that the ratio of the two medians keeps.
    The interval is the order-statistic one for a median (the binomial sign-test
    interval): no assumption on how the noise is distributed.

    Args:
        numerator, denominator: seconds per round, as :func:`alternated_times` returns.
        confidence: coverage of the interval.

    Returns:
        (median ratio, low, high). With fewer than 6 rounds no interval reaches 95 %:
        then low and high are the smallest and largest ratio.
    """
    if len(numerator) != len(denominator) or not numerator:
        raise ValueError(f'paired_ratio needs two equally long, non-empty lists of round '
                         f'times, got {len(numerator)} and {len(denominator)}')
    ratios = sorted(a / b for a, b in zip(numerator, denominator))
    n = len(ratios)
    # the largest k with P(Binomial(n, 1/2) < k) <= (1 - confidence) / 2: the interval
    # [k-th smallest, k-th largest] then covers the median with at least `confidence`
    k, below = 0, 0.0
    while k < n // 2:
        below_next = below + math.comb(n, k) / 2 ** n
        if below_next > (1 - confidence) / 2:
            break
        below, k = below_next, k + 1
    k = max(k, 1)
    return statistics.median(ratios), ratios[k - 1], ratios[n - k]


def ratio_text(numerator: List[float], denominator: List[float], note: str = '') -> str:
    """``'<ratio of medians><note>; per-round ratios: median <r>, 95 % interval [<lo>, <hi>]'``
    of two alternated runs' round times (:func:`paired_ratio`), as the benchmarks print it."""
    ratio, low, high = paired_ratio(numerator, denominator)
    return (f'{median(numerator) / median(denominator):.3f}{note}; per-round ratios: '
            f'median {ratio:.3f}, 95 % interval [{low:.3f}, {high:.3f}]')
